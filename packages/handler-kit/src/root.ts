// Files under a root, through the server's secure resolver: ".." refused,
// absolute names taken relative to the root, symlinks followed only while they
// stay inside it.

import { RootResolver, TftpError, type FileResponse } from "@tftpkit/server";

export interface RootSource {
  /** The file at `path` under the root; throws ERROR 1 if missing, ERROR 2 if the path leads outside. */
  (path: string): Promise<FileResponse>;
  /** Like calling the source, but undefined instead of ERROR 1 (to fall through to another source). */
  tryFile(path: string): Promise<FileResponse | undefined>;
  readonly resolver: RootResolver;
}

export function rootSource(dir: string | RootResolver): RootSource {
  const resolver = typeof dir === "string" ? new RootResolver(dir) : dir;
  const source = (path: string): Promise<FileResponse> => resolver.file(path);
  const tryFile = async (path: string): Promise<FileResponse | undefined> => {
    try {
      return await resolver.file(path);
    } catch (err) {
      if (err instanceof TftpError && err.wireCode === 1) return undefined;
      throw err;
    }
  };
  return Object.assign(source, { tryFile, resolver });
}
