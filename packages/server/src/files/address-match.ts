// Client addresses: parsing (IPv4, IPv6, IPv4-mapped IPv6) and matching an
// address against a pattern (an address, a CIDR block or a range), as the
// per-client roots and the remap rules' 4/6 flags use them.

import { isIP } from "node:net";
import { TftpConfigError } from "@tftpkit/options";

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

export function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (b[i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

/**
 * An address as 16 bytes: IPv6 as it is, IPv4 as its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d). A zone (%eth0) is ignored. Undefined if not an address.
 */
export function parseAddress(address: string): Uint8Array | undefined {
  const s = address.replace(/%.*$/, "");
  const kind = isIP(s);
  if (kind === 4) return Uint8Array.from([...MAPPED_PREFIX, ...parseV4(s)!]);
  if (kind !== 6) return undefined;
  const out = new Uint8Array(16);
  let head = s;
  let tail = "";
  const dc = s.indexOf("::");
  if (dc >= 0) {
    head = s.slice(0, dc);
    tail = s.slice(dc + 2);
  }
  const words = (part: string): number[] => {
    if (part === "") return [];
    const w: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const v4 = parseV4(g)!;
        w.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else w.push(parseInt(g, 16));
    }
    return w;
  };
  const h = words(head);
  const t = words(tail);
  const all = dc >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/**
 * A predicate for client addresses from "10.0.0.5", "10.0.1.0/24",
 * "2001:db8::1" or "fd00::/64". IPv4 rules also match IPv4-mapped IPv6
 * clients (::ffff:10.0.0.5). Throws TftpConfigError on a bad pattern,
 * including a prefix with host bits set.
 */
export function compileAddressMatch(pattern: string): (address: string) => boolean {
  const slash = pattern.indexOf("/");
  const addr = slash < 0 ? pattern : pattern.slice(0, slash);
  const net = parseAddress(addr);
  if (!net || addr.includes("%")) throw new TftpConfigError(`client match "${pattern}": not an IPv4 or IPv6 address`);
  const v4 = isIP(addr) === 4;
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const p = pattern.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      throw new TftpConfigError(`client match "${pattern}": prefix length must be 0..${max}`);
    }
    bits = Number(p);
  }
  const prefix = v4 ? bits + 96 : bits;
  for (let bit = prefix; bit < 128; bit++) {
    if (net[bit >> 3] & (0x80 >> (bit & 7))) {
      throw new TftpConfigError(`client match "${pattern}": host bits are set after /${bits}`);
    }
  }
  const full = prefix >> 3;
  const rest = prefix & 7;
  const mask = rest ? (0xff << (8 - rest)) & 0xff : 0;
  return (address) => {
    const a = parseAddress(address);
    if (!a) return false;
    for (let i = 0; i < full; i++) if (a[i] !== net[i]) return false;
    return rest === 0 || (a[full] & mask) === net[full];
  };
}
