// What a boot loader's file name says about the client asking.
//
//   pxelinux.cfg/01-aa-bb-cc-dd-ee-ff   pxelinux, by MAC (01 = Ethernet)   rest: pxelinux.cfg/default
//   pxelinux.cfg/C0A8010A               pxelinux, by IPv4 in hex           rest: pxelinux.cfg/default
//   grub/grub.cfg-01-aa-bb-cc-dd-ee-ff  grub net boot, by MAC              rest: grub/grub.cfg
//   grub/grub.cfg-C0A8010A              grub net boot, by IPv4 in hex      rest: grub/grub.cfg
//   01-aa-bb-cc-dd-ee-ff/boot.ipxe      a folder per MAC                   rest: boot.ipxe
//   aa:bb:cc:dd:ee:ff/boot.ipxe         (also aa-bb-cc-dd-ee-ff/)
//   1234abcd/start4.elf                 Raspberry Pi, a folder per serial  rest: start4.elf
//   boot.ipxe?mac=aa:bb:cc:dd:ee:ff     iPXE, ?mac=${net0/mac} in the URL  rest: boot.ipxe
//
// Prefixes are folders only: a single segment is never taken for one. Any
// folders before pxelinux.cfg or grub.cfg stay in `rest`. Hex in the result
// is lower case (mac, serial), except hexIp, upper case as pxelinux writes it.
// (Moved here from @tftpkit/handler-kit, which re-exports it: boot flows name the
// machine from the same parse.)

import { safeSegments } from "./segments.js";

export type BootPathKind = "pxelinux-mac" | "pxelinux-ip" | "grub-mac" | "grub-ip" | "mac-folder" | "serial-folder" | "query-mac";

export interface BootPath {
  /** The path normalised: slashes, no leading slash, no "." or empty segments. */
  path: string;
  /** The path without what names the client: the name of a shared file or template. */
  rest: string;
  kind: BootPathKind | undefined;
  /** aa:bb:cc:dd:ee:ff */
  mac: string | undefined;
  /** aa-bb-cc-dd-ee-ff */
  macHyphen: string | undefined;
  /** 8 hex digits, lower case (Raspberry Pi serial number folder). */
  serial: string | undefined;
  /** 8 hex digits, upper case, when the name carries an IPv4 address. */
  hexIp: string | undefined;
}

const HEX2 = "[0-9a-f]{2}";
const PXE_MAC = new RegExp(`^01-(${HEX2}(?:-${HEX2}){5})$`, "i");
const MAC = new RegExp(`^(?:01-)?(${HEX2}(?:([:-])${HEX2})(?:\\2${HEX2}){4})$`, "i");
const HEX_IP = /^[0-9a-f]{8}$/i;
const GRUB = new RegExp(`^(grub\\.cfg)-(?:01-(${HEX2}(?:-${HEX2}){5})|([0-9a-f]{8}))$`, "i");

/** `mac=` in a query string: aa:bb:cc:dd:ee:ff or aa-bb-..., the colons possibly %3A-encoded. */
const QUERY_MAC = new RegExp(`(?:^|&)mac=(${HEX2}(?:(?::|-|%3a)${HEX2}){5})(?:&|$)`, "i");

function macForms(m: string): { mac: string; macHyphen: string } {
  const parts = m.toLowerCase().split(/[:-]/);
  return { mac: parts.join(":"), macHyphen: parts.join("-") };
}

/**
 * Reads the client's MAC, serial number or hex IP out of a requested path.
 * Throws ERROR 2 for a path with "..", ERROR 1 for an empty one (like the root resolver).
 */
export function parseBootPath(requested: string): BootPath {
  const q = requested.indexOf("?");
  const qm = q >= 0 ? QUERY_MAC.exec(requested.slice(q + 1)) : null;
  if (qm) {
    const base = parseBootPath(requested.slice(0, q));
    if (base.kind) return base;
    return { ...base, kind: "query-mac", ...macForms(qm[1].replace(/%3a/gi, ":")) };
  }
  const segs = safeSegments(requested);
  const path = segs.join("/");
  const none: BootPath = { path, rest: path, kind: undefined, mac: undefined, macHyphen: undefined, serial: undefined, hexIp: undefined };
  const last = segs[segs.length - 1];
  const dir = segs.slice(0, -1);

  if (dir.length > 0 && dir[dir.length - 1].toLowerCase() === "pxelinux.cfg") {
    const rest = [...dir, "default"].join("/");
    const m = PXE_MAC.exec(last);
    if (m) return { ...none, rest, kind: "pxelinux-mac", ...macForms(m[1]) };
    if (HEX_IP.test(last)) return { ...none, rest, kind: "pxelinux-ip", hexIp: last.toUpperCase() };
    return none;
  }
  const g = GRUB.exec(last);
  if (g) {
    const rest = [...dir, g[1]].join("/");
    if (g[2]) return { ...none, rest, kind: "grub-mac", ...macForms(g[2]) };
    return { ...none, rest, kind: "grub-ip", hexIp: g[3].toUpperCase() };
  }
  if (segs.length >= 2) {
    const rest = segs.slice(1).join("/");
    const m = MAC.exec(segs[0]);
    if (m) return { ...none, rest, kind: "mac-folder", ...macForms(m[1]) };
    if (HEX_IP.test(segs[0])) return { ...none, rest, kind: "serial-folder", serial: segs[0].toLowerCase() };
  }
  return none;
}

/** "C0A8010A" -> 192.168.1.10. */
export function hexToIpv4(hex: string): string {
  if (!/^[0-9a-f]{8}$/i.test(hex)) throw new TypeError(`not 8 hex digits: ${hex}`);
  return [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(".");
}

/** Who a boot file name says the client is; the kind says how it was named. */
export interface BootIdentity {
  /** "mac", "ip" (IPv4 from a hex-IP name) or "serial" (Raspberry Pi). */
  kind: "mac" | "ip" | "serial";
  value: string;
}

/** The identity a requested path carries, if any (never throws: a bad path names nobody). */
export function bootIdentity(requested: string): BootIdentity | undefined {
  // Every session's name is asked (boot flows): the answers of recent names are kept.
  const known = IDENTITY_CACHE.get(requested);
  if (known !== undefined) return known ?? undefined;
  const id = identityOf(requested);
  if (IDENTITY_CACHE.size >= IDENTITY_CACHE_MAX) IDENTITY_CACHE.clear();
  IDENTITY_CACHE.set(requested, id ? Object.freeze(id) : null);
  return id;
}

/** Names' identities (null: none), bounded. */
const IDENTITY_CACHE = new Map<string, Readonly<BootIdentity> | null>();
const IDENTITY_CACHE_MAX = 512;

function identityOf(requested: string): BootIdentity | undefined {
  let p: BootPath;
  try {
    p = parseBootPath(requested);
  } catch {
    return undefined;
  }
  if (p.mac) return { kind: "mac", value: p.mac };
  if (p.serial) return { kind: "serial", value: p.serial };
  if (p.hexIp) return { kind: "ip", value: hexToIpv4(p.hexIp) };
  return undefined;
}
