// What a handler receives and what it may answer.

import type { Stats } from "node:fs";
import { Readable } from "node:stream";
import type { FlowContext, FlowStage } from "./observe/flows.js";

export interface ReadRequest {
  /** The file name as the client sent it. */
  path: string;
  mode: "octet" | "netascii";
  /** Options as sent (names lower-cased), unknown ones included. */
  options: Readonly<Record<string, string>>;
  peer: { address: string; port: number; family: "IPv4" | "IPv6" };
  /** Where the request arrived (address undefined on a wildcard socket). */
  local: { address: string | undefined; port: number };
  /** Aborted when the session ends early (client gone, server closing, handler timeout). */
  signal: AbortSignal;
  /** Unique per server. */
  sessionId: number;
  /**
   * The boot flow this request belongs to (absent with maxFlows 0): its id,
   * client, identity so far and, when tracing records it, the traceparent of
   * its tftp.boot span, to pass on (e.g. in the HTTP URLs of an iPXE script).
   */
  flow?: FlowContext;
  /**
   * Set when the request came to the HTTP stage (net/http-stage.ts): the
   * method, the headers (names lower-cased) and the query string. `path` is
   * then the URL path percent-decoded, without its leading slash.
   */
  http?: { method: "GET" | "HEAD"; headers: Readonly<Record<string, string | string[] | undefined>>; query: string };
}

/** A file to send, opened and sized by the session. */
export class FileResponse {
  /** `stats`: a stat of the file made just now, if the handler has one (saves the session a stat). */
  constructor(readonly path: string, readonly stats?: Stats) {}
}

/** Answers the request with the file at `path` (already resolved by the handler: no root checks are made here). */
export function file(path: string): FileResponse {
  return new FileResponse(path);
}

export type Body = Uint8Array | string | Readable | AsyncIterable<Uint8Array> | FileResponse;

/** A body with its size (so that tsize can be announced for a stream) and what the boot flow should know of it. */
export interface SizedBody {
  body: Body;
  size?: number;
  /** The step's stage in the boot flow (boot-program, config, kernel, initrd, other); default: from the name and the flow's order. */
  stage?: FlowStage;
  /** This file is the boot's last: once it is sent, the flow ends as booted (with its time to boot). */
  last?: boolean;
}

export type ReadResponse = Body | SizedBody;

/** Decides what a read request answers. Throw a TftpError to answer an error (e.g. TftpError.notFound()). */
export type ReadHandler = (request: ReadRequest) => ReadResponse | Promise<ReadResponse>;

export function isSized(r: ReadResponse): r is SizedBody {
  return typeof r === "object" && r !== null && !(r instanceof Uint8Array) && !(r instanceof FileResponse) &&
    !(r instanceof Readable) && "body" in r;
}
