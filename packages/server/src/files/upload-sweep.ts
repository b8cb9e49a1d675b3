// Upload temp files left behind by a server that was killed mid-upload
// (kill -9, a crash, a power cut): `.NAME.<12 hex>.tftpkit-upload` beside the
// destination (see write.ts). A failed or aborted upload removes its own; a
// killed process cannot. The sweep removes only names of exactly that form,
// only regular files, never through a link (a linked folder is not entered,
// a link is never removed), and only files untouched for `olderThanMs`: a
// live upload of another process on the same root (a sibling worker) writes
// its file at least every stall timeout, or its session ends and removes it.

import { lstat, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";

const TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tftpkit-upload$/;
const MAX_DEPTH = 32;
const MAX_ENTRIES = 200_000; // entries looked at per sweep, at most

/** Removes stale upload temp files under `root`; resolves how many were removed. Never throws. */
export async function sweepStaleUploads(root: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // gone or not readable: nothing of ours to remove there
    }
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) return;
      const path = join(dir, e.name);
      // Dirent types come from lstat semantics: a link is neither a file nor a folder here.
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(path, depth + 1);
      } else if (e.isFile() && TEMP_NAME.test(e.name)) {
        try {
          const st = await lstat(path);
          if (!st.isFile() || now - st.mtimeMs < olderThanMs) continue;
          await unlink(path); // unlink never follows a link, should one have been swapped in
          removed++;
        } catch {
          // Removed meanwhile, or not ours to remove.
        }
      }
    }
  };
  await walk(root, 0);
  return removed;
}
