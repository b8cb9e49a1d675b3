// Relative links of Markdown files that do not resolve to a file (or to a
// heading of it, for `page.md#anchor`).

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

/** Link targets of a Markdown text: `[text](target)` and `![alt](target)`, outside code blocks and spans. */
export function linkTargets(markdown) {
  const prose = markdown
    .replace(/^```[\s\S]*?^```/gm, "")
    .replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown text's headings (outside code blocks). */
export function anchors(markdown) {
  const seen = new Map();
  const out = new Set();
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/**
 * Every relative link of `files` (paths relative to `repo`) whose file is missing,
 * as `file: target`, leaving out targets listed in `exempt` (paths relative to `repo`).
 */
export function brokenLinks(repo, files, exempt = []) {
  const out = [];
  for (const file of files) {
    const text = readFileSync(join(repo, file), "utf8");
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      if (target.startsWith("#")) {
        if (!anchors(text).has(decodeURIComponent(target.slice(1)))) out.push(`${file}: ${target} (no such heading)`);
        continue;
      }
      const path = decodeURIComponent(target.split("#")[0]);
      const resolved = relative(repo, join(dirname(join(repo, file)), path));
      if (exempt.includes(resolved)) continue;
      if (!existsSync(join(repo, resolved))) out.push(`${file}: ${target}`);
      else if (target.includes("#") && resolved.endsWith(".md")) {
        const anchor = decodeURIComponent(target.split("#")[1]);
        if (!anchors(readFileSync(join(repo, resolved), "utf8")).has(anchor)) out.push(`${file}: ${target} (no such heading)`);
      }
    }
  }
  return out;
}
