// Relative links of Markdown files that do not resolve to a file.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

/** Link targets of a Markdown text: `[text](target)` and `![alt](target)`, outside code blocks and spans. */
export function linkTargets(markdown) {
  const prose = markdown
    .replace(/^```[\s\S]*?^```/gm, "")
    .replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
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
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
      const path = decodeURIComponent(target.split("#")[0]);
      const resolved = relative(repo, join(dirname(join(repo, file)), path));
      if (exempt.includes(resolved)) continue;
      if (!existsSync(join(repo, resolved))) out.push(`${file}: ${target}`);
    }
  }
  return out;
}
