// Fixture bytes and folders, and small waits, shared by the tests.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Deterministic pseudo-random bytes (xorshift32; not crypto: fixtures only). The same (n, seed) gives the same bytes. */
export function bytes(n: number, seed = n): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Bytes from a hex string; white space and `|` (field separators) are ignored. */
export function hex(s: string): Buffer {
  const clean = s.replace(/[\s|]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex fixture: ${s}`);
  return Buffer.from(clean, "hex");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = "TimeoutError";
  }
}

/** Rejects after `ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what = "a promise"): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Polls `probe` until it returns a value (not undefined), or throws after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(every);
  }
}

export interface TempTree {
  dir: string;
  /** Removes the folder and all in it. */
  cleanup(): void;
}

/**
 * A temporary folder with the given files (relative name -> content; folders
 * on the way are made). `mode`: the folder's own permissions (for example
 * 0o777 for a server that drops privileges and writes there).
 */
export function tempTree(files: Record<string, string | Uint8Array> = {}, o: { prefix?: string; mode?: number } = {}): TempTree {
  const dir = mkdtempSync(join(tmpdir(), o.prefix ?? "tftpkit-test-"));
  if (o.mode !== undefined) chmodSync(dir, o.mode);
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
