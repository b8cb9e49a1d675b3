// Per-client boot configs: the requested path names a template (after the
// client-specific part is taken off, see @tftpkit/server's bootpath.ts), the client's address
// and what the path says about it give the base variables, and the user's
// lookup adds the rest (host name, kernel, role... from an inventory).

import { stat, readFile } from "node:fs/promises";
import { RootResolver, TftpError, parseBootPath, type BootPath, type ReadRequest } from "@tftpkit/server";
import { clientAddress, type ClientAddress } from "./client-address.js";
import { TemplateError } from "./errors.js";
import { Template, type TemplateVars } from "./template.js";

export interface TemplateContext {
  client: ClientAddress;
  path: BootPath;
  /** The template chosen. */
  name: string;
}

export interface TemplateSourceOptions {
  /** Templates as files under this folder (read through the secure root resolver, re-read when changed). */
  dir?: string;
  /** Templates given inline, by name (looked up before `dir`). */
  templates?: Readonly<Record<string, string>>;
  /**
   * Variables of one request, merged over the base ones. May be async (an
   * inventory lookup). Throw TftpError.notFound() to refuse a client you do
   * not know; return undefined to render with the base variables only.
   */
  vars?: (request: ReadRequest, context: TemplateContext) => TemplateVars | undefined | Promise<TemplateVars | undefined>;
  /** The template for a request; default `path.rest`. Return undefined to decline the request. */
  name?: (path: BootPath, request: ReadRequest) => string | undefined;
}

/** Renders the request's template; undefined when there is none for it (so the handler can fall through). */
export type TemplateSource = (request: ReadRequest) => Promise<string | undefined>;

/**
 * The base variables of a request:
 * ip, family, hexIp (the client's, IPv4 only), mac, macHyphen, serial,
 * askedHexIp (a hex IPv4 in the path), path, rest, kind. Absent ones are left
 * unset (test them with {{#if}}).
 */
export function baseVars(client: ClientAddress, path: BootPath): Record<string, string> {
  const v: Record<string, string> = { ip: client.ip, family: client.family, path: path.path, rest: path.rest };
  if (client.hexIp) v.hexIp = client.hexIp;
  if (path.hexIp) v.askedHexIp = path.hexIp;
  if (path.mac) v.mac = path.mac;
  if (path.macHyphen) v.macHyphen = path.macHyphen;
  if (path.serial) v.serial = path.serial;
  if (path.kind) v.kind = path.kind;
  return v;
}

export function templateSource(options: TemplateSourceOptions): TemplateSource {
  if (!options.dir && !options.templates) throw new TypeError("templateSource: give dir, templates or both");
  const inline = new Map<string, Template>();
  for (const [name, text] of Object.entries(options.templates ?? {})) {
    try {
      inline.set(normalise(name), compile(name, text));
    } catch (err) {
      throw err instanceof TemplateError ? new TemplateError(`template ${name}: ${err.message}`) : err;
    }
  }
  const resolver = options.dir ? new RootResolver(options.dir) : undefined;
  const fromFiles = new Map<string, { mtimeMs: number; size: number; template: Template }>();

  const find = async (name: string): Promise<Template | undefined> => {
    const t = inline.get(name);
    if (t || !resolver) return t;
    let real: string;
    try {
      real = await resolver.resolve(name);
    } catch (err) {
      if (err instanceof TftpError && err.wireCode === 1) return undefined;
      throw err;
    }
    const st = await stat(real);
    if (!st.isFile()) return undefined;
    const known = fromFiles.get(real);
    if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.template;
    const template = compile(name, await readFile(real, "utf8"));
    fromFiles.set(real, { mtimeMs: st.mtimeMs, size: st.size, template });
    return template;
  };

  return async (request) => {
    const path = parseBootPath(request.path);
    const name = options.name ? options.name(path, request) : path.rest;
    if (name === undefined) return undefined;
    try {
      const template = await find(normalise(name));
      if (!template) return undefined;
      const client = clientAddress(request.peer.address);
      const extra = await options.vars?.(request, { client, path, name });
      return template.render({ ...baseVars(client, path), ...extra });
    } catch (err) {
      if (err instanceof TemplateError) {
        throw new TftpError(0, `Template ${name}: ${err.message}`, undefined, { cause: err });
      }
      throw err;
    }
  };
}

function normalise(name: string): string {
  return name.replace(/\\/g, "/").split("/").filter((s) => s !== "" && s !== ".").join("/");
}

function compile(name: string, text: string): Template {
  return Template.compile(text);
}
