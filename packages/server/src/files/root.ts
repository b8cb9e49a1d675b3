// Files under a root, with no way out of it: ".." segments are refused,
// absolute names are taken relative to the root, backslashes are read as
// slashes, and symlinks are followed only while they stay inside the root.
//
// Options: a case-insensitive lookup when the exact name is missing (for
// clients that ask PXELINUX.0 or Boot\BCD), per-client roots chosen by the
// client's address, and `resolveForWrite` for uploads.

import { stat as statCb, type Stats } from "node:fs";
import { lstat, opendir, realpath, stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { FileResponse, type ReadHandler, type ReadRequest } from "../handler.js";
import { compileAddressMatch } from "./address-match.js";
import { TftpError, toTftpError } from "@tftpkit/wasm-core";
import { TftpConfigError } from "@tftpkit/options";
import { safeSegments } from "./segments.js";

export { safeSegments };

export interface RootOptions {
  /**
   * When the exact name is missing, look its segments up among the
   * directory entries, ignoring case (simple Unicode lower-casing). Exact
   * names are tried first, then other casings in code-unit order ("BOOT"
   * before "Boot" before "boot"), backtracking when a folder does not hold
   * the rest of the name: the first complete path wins, every time.
   */
  caseInsensitive?: boolean;
  /** Work allowed per case-insensitive lookup (directory entries read plus names tried); past it the name is not found. */
  maxScanEntries?: number;
  /**
   * How long (ms) a stat of a name resolved before is trusted: within it a
   * request for the same name costs no system call; after it the name is
   * stat()ed again (a replaced or changed file is seen then). 0: a stat per
   * request.
   */
  statCacheMs?: number;
}

export const ROOT_DEFAULTS = Object.freeze({
  caseInsensitive: false,
  maxScanEntries: 10_000, // directory entries per case-insensitive lookup
  statCacheMs: 0, // ms a stat is trusted (the server passes its statCacheMs option)
});

const fold = (s: string): string => s.toLowerCase();
const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
};

export class RootResolver {
  private rootReal: Promise<string>;
  private readonly caseInsensitive: boolean;
  private readonly maxScanEntries: number;
  private readonly statCacheMs: number;

  constructor(readonly root: string, opts: RootOptions = {}) {
    this.caseInsensitive = opts.caseInsensitive ?? ROOT_DEFAULTS.caseInsensitive;
    this.maxScanEntries = opts.maxScanEntries ?? ROOT_DEFAULTS.maxScanEntries;
    this.statCacheMs = opts.statCacheMs ?? ROOT_DEFAULTS.statCacheMs;
    if (!Number.isInteger(this.maxScanEntries) || this.maxScanEntries < 1) {
      throw new TftpConfigError(`maxScanEntries must be a positive integer (got ${opts.maxScanEntries})`);
    }
    if (!Number.isFinite(this.statCacheMs) || this.statCacheMs < 0) {
      throw new TftpConfigError(`statCacheMs must be a number >= 0 (got ${opts.statCacheMs})`);
    }
    this.rootReal = realpath(resolve(root));
    this.rootReal.then(
      (r) => {
        this.rootRealNow = r;
      },
      () => {},
    );
  }

  /** The root's real path once known (fileNow() answers only then). */
  private rootRealNow: string | undefined;

  private async realRoot(): Promise<string> {
    return this.rootReal.catch((err) => {
      throw toTftpError(err);
    });
  }

  private static inside(rootReal: string, real: string): boolean {
    return real === rootReal || real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
  }

  /** The real path of `requested` under the root; ERROR 1 if missing, ERROR 2 if it leads outside. */
  async resolve(requested: string): Promise<string> {
    const segments = safeSegments(requested);
    const rootReal = await this.realRoot();
    const real = await this.realUnder(rootReal, segments);
    if (!RootResolver.inside(rootReal, real)) {
      throw TftpError.accessViolation("Access violation: path leaves the root");
    }
    return real;
  }

  /**
   * The absolute path an upload of `requested` should land on: the same
   * checks as reads (no "..", no NUL, absolute names relative to the root),
   * the parent directory must exist and its real path be inside the root,
   * and an existing final component that is a symlink must lead inside the
   * root (its real path is returned then; a dangling one is refused). The
   * file itself need not exist. ERROR 1 for a missing parent, ERROR 2 for
   * anything leading outside or naming an existing directory, FIFO, device.
   *
   * The checks are made now: a local user able to swap directories for
   * symlinks between this call and the write is outside this guarantee.
   */
  async resolveForWrite(requested: string): Promise<string> {
    let segments: string[];
    try {
      segments = safeSegments(requested);
    } catch (err) {
      // No name at all ("", "/", "."): nothing to create.
      if (err instanceof TftpError && err.wireCode === 1) throw TftpError.accessViolation("Invalid file name");
      throw err;
    }
    const rootReal = await this.realRoot();
    const name = segments.pop()!;
    const parentReal = segments.length === 0 ? rootReal : await this.realUnder(rootReal, segments);
    if (!RootResolver.inside(rootReal, parentReal)) {
      throw TftpError.accessViolation("Access violation: path leaves the root");
    }
    try {
      if (!(await stat(parentReal)).isDirectory()) throw TftpError.notFound("Directory not found");
    } catch (err) {
      throw toTftpError(err);
    }
    let target = parentReal + sep + name;
    let st = await lstatOrUndefined(target);
    if (st === undefined && this.caseInsensitive) {
      const [other] = await matchingEntries(parentReal, name, { left: this.maxScanEntries });
      if (other !== undefined) {
        target = parentReal + sep + other;
        st = await lstatOrUndefined(target);
      }
    }
    if (st === undefined) return target;
    if (st.isSymbolicLink()) {
      let real: string;
      try {
        real = await realpath(target);
      } catch {
        throw TftpError.accessViolation("Access violation: dangling symlink");
      }
      if (!RootResolver.inside(rootReal, real)) {
        throw TftpError.accessViolation("Access violation: path leaves the root");
      }
      target = real;
      st = await stat(real);
    }
    if (!st.isFile()) throw TftpError.accessViolation("Access violation: not a regular file");
    return target;
  }

  /** realpath of root/segments, with the case-insensitive fallback; TftpError on failure. */
  private async realUnder(rootReal: string, segments: string[]): Promise<string> {
    try {
      return await realpath(rootReal + sep + segments.join(sep));
    } catch (err) {
      if (!this.caseInsensitive || !isMissing(err)) throw toTftpError(err);
      const found = await this.findCaseless(rootReal, segments);
      if (found === undefined) throw toTftpError(err);
      try {
        return await realpath(found);
      } catch (err2) {
        throw toTftpError(err2);
      }
    }
  }

  /**
   * Finds `segments` under `base` ignoring case, depth first: at each level
   * the exact name first, then the entries equal to it ignoring case in
   * code-unit order ("BOOT" < "Boot" < "boot"), backtracking when a choice
   * leads nowhere. The first complete path wins, so the choice is the same
   * every time. Every lstat and directory entry read counts against
   * maxScanEntries; when it runs out the name is not found.
   */
  private async findCaseless(base: string, segments: string[]): Promise<string | undefined> {
    const budget = { left: this.maxScanEntries };
    const walk = async (dir: string, i: number): Promise<string | undefined> => {
      if (i === segments.length) return dir;
      const seg = segments[i];
      if (budget.left-- <= 0) return undefined;
      const exact = dir + sep + seg;
      if ((await lstatOrUndefined(exact)) !== undefined) {
        const found = await walk(exact, i + 1);
        if (found !== undefined) return found;
      }
      for (const name of await matchingEntries(dir, seg, budget)) {
        if (name === seg) continue;
        const found = await walk(dir + sep + name, i + 1);
        if (found !== undefined) return found;
        if (budget.left <= 0) return undefined;
      }
      return undefined;
    };
    return walk(base, 0);
  }

  /**
   * The file to answer `requested` with. A name resolved before is checked
   * with one stat of the name as asked: while it still leads to the same
   * inode as the real path vetted then, the vetted path is used without a
   * new realpath (a symlink swapped to lead elsewhere leads to another inode
   * and gets the full check again). Within statCacheMs of that stat the
   * name is answered from it, with no system call at all.
   */
  async file(requested: string): Promise<FileResponse> {
    const segments = safeSegments(requested);
    const rootReal = await this.realRoot();
    const joined = rootReal + sep + segments.join(sep);
    const known = this.vetted.get(joined);
    if (known) {
      const now = performance.now(); // monotonic: a clock step neither extends nor ends the trust
      if (now - known.statAt < this.statCacheMs) {
        this.rememberName(requested, joined);
        return new FileResponse(known.real, known.st);
      }
      const st = await statOrUndefined(joined);
      if (st && st.ino === known.ino && st.dev === known.dev) {
        known.st = st;
        known.statAt = now;
        this.rememberName(requested, joined);
        return new FileResponse(known.real, st);
      }
      this.vetted.delete(joined);
    }
    const real = await this.realUnder(rootReal, segments);
    if (!RootResolver.inside(rootReal, real)) {
      throw TftpError.accessViolation("Access violation: path leaves the root");
    }
    const st = await statOrUndefined(real);
    if (!st) throw TftpError.notFound();
    if (this.vetted.size >= VETTED_MAX) this.vetted.clear();
    this.vetted.set(joined, { real, dev: st.dev, ino: st.ino, st, statAt: performance.now() });
    this.rememberName(requested, joined);
    return new FileResponse(real, st);
  }

  /**
   * file()'s answer at once, when it needs no system call: `requested` was
   * resolved before and its stat is within statCacheMs. Undefined
   * otherwise (file() then checks and resolves). Same answer as file(),
   * without a promise.
   */
  fileNow(requested: string): FileResponse | undefined {
    if (this.statCacheMs <= 0 || this.rootRealNow === undefined) return undefined;
    const joined = this.joinedNames.get(requested);
    const known = joined === undefined ? undefined : this.vetted.get(joined);
    if (!known || performance.now() - known.statAt >= this.statCacheMs) return undefined;
    return new FileResponse(known.real, known.st);
  }

  /** `requested` leads to the vetted `joined` (bounded like the vetted names). */
  private rememberName(requested: string, joined: string): void {
    if (this.joinedNames.get(requested) === joined) return;
    if (this.joinedNames.size >= VETTED_MAX) this.joinedNames.clear();
    this.joinedNames.set(requested, joined);
  }

  /** Names resolved before (joined path -> vetted real path, its inode and its last stat). */
  private readonly vetted = new Map<string, Vetted>();
  /** Names as asked -> their joined path, for fileNow() (no segments to split per request). */
  private readonly joinedNames = new Map<string, string>();
}

const VETTED_MAX = 10_000; // resolved names remembered per root

interface Vetted {
  real: string;
  dev: number;
  ino: number;
  st: Stats; // the last stat of the name as asked
  statAt: number; // when it was made (performance.now(), ms)
}

function statOrUndefined(p: string): Promise<Stats | undefined> {
  return new Promise((resolve, reject) => {
    statCb(p, (err, st) => {
      if (!err) return resolve(st);
      if (isMissing(err)) return resolve(undefined);
      reject(toTftpError(err));
    });
  });
}

async function lstatOrUndefined(p: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw toTftpError(err);
  }
}

/** The entries of `dir` equal to `name` ignoring case, in code-unit order; none once `budget` runs out. */
async function matchingEntries(dir: string, name: string, budget: { left: number }): Promise<string[]> {
  const want = fold(name);
  const found: string[] = [];
  let d;
  try {
    d = await opendir(dir);
  } catch {
    return [];
  }
  try {
    for await (const e of d) {
      if (budget.left-- <= 0) return [];
      if (fold(e.name) === want) found.push(e.name);
    }
  } catch {
    return [];
  }
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

// -------------------------------------------------------- client roots

export interface ClientRoot {
  /** "10.0.0.5", "10.0.1.0/24", "2001:db8::1" or "fd00::/64"; IPv4 rules also match IPv4-mapped IPv6 clients. */
  match: string;
  root: string;
}

export interface RootHandlerOptions extends RootOptions {
  /** Per-client roots: the first whose `match` covers the client's address wins, else the default root. */
  clientRoots?: readonly ClientRoot[];
}

/**
 * Chooses the RootResolver for a client address (the default root's when no
 * client root matches). Resolvers are made once, here. A class, so that
 * every server's sessions run the same `pick` code (see rootHandler).
 */
export class RootSelection {
  private readonly fallback: RootResolver;
  private readonly table: ReadonlyArray<{ matches: (address: string) => boolean; resolver: RootResolver }>;

  constructor(root: string, opts: RootHandlerOptions = {}) {
    const { clientRoots = [], ...rootOpts } = opts;
    const byRoot = new Map<string, RootResolver>();
    const resolverFor = (dir: string): RootResolver => {
      if (typeof dir !== "string" || dir === "") throw new TftpConfigError("clientRoots: every entry needs a root folder");
      let r = byRoot.get(dir);
      if (!r) byRoot.set(dir, (r = new RootResolver(dir, rootOpts)));
      return r;
    };
    this.fallback = resolverFor(root);
    this.table = clientRoots.map((c) => {
      if (typeof c?.match !== "string") throw new TftpConfigError("clientRoots: every entry needs a match string");
      return { matches: compileAddressMatch(c.match), resolver: resolverFor(c.root) };
    });
  }

  /** The resolver of the client at `address`. */
  pick(address: string): RootResolver {
    const table = this.table;
    for (let i = 0; i < table.length; i++) if (table[i].matches(address)) return table[i].resolver;
    return this.fallback;
  }

  /** What rootHandler's handler answers: the file `req` names under the client's root. */
  read(req: ReadRequest): FileResponse | Promise<FileResponse> {
    const r = this.pick(req.peer.address);
    return r.fileNow(req.path) ?? r.file(req.path);
  }
}

/**
 * A function choosing the RootResolver for a client address (the default
 * root's when no client root matches). Resolvers are made once, here.
 */
export function rootSelector(root: string, opts: RootHandlerOptions = {}): (address: string) => RootResolver {
  const selection = new RootSelection(root, opts);
  return (address) => selection.pick(address);
}

/** rootHandler's handlers carry their RootSelection here (see rootSelectionOf). */
const SELECTION = Symbol("tftpkit.rootSelection");

/** A handler that serves the files under `root` (or under the client's own root, see `clientRoots`). */
export function rootHandler(root: string, opts: RootHandlerOptions = {}): ReadHandler {
  const selection = new RootSelection(root, opts);
  const handler: ReadHandler = (req) => selection.read(req);
  Object.defineProperty(handler, SELECTION, { value: selection });
  return handler;
}

/**
 * The RootSelection behind a handler made by rootHandler (undefined for any
 * other handler). A server calls its `read` method rather than the handler:
 * each rootHandler call makes a function of its own, and the JIT's code for
 * the call of one (the warm-up's private server's) is thrown away when the
 * real server's first session calls another; a method of one class is the
 * same function for every server.
 */
export function rootSelectionOf(handler: ReadHandler): RootSelection | undefined {
  return (handler as ReadHandler & { [SELECTION]?: RootSelection })[SELECTION];
}
