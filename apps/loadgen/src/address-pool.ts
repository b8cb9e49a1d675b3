// --source CIDR: a pool of local source addresses, one per virtual client
// (a machine), so the server sees distinct machines. On Linux the whole of
// 127.0.0.0/8 is local, so 127.0.3.0/24 works on loopback without set-up.

import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";

/** A bad --source: a TftpConfigError naming the flag (reason TFTP_ERR_CONFIG_VALUE, or _START when an address cannot be bound). */
const poolError = (message: string, code: ConfigErrorCode = ConfigErrorCode.VALUE): TftpConfigError => new TftpConfigError({ code, key: "--source", message });

export interface AddressPool {
  cidr: string;
  family: 4 | 6;
  /** Addresses in the pool (the network and broadcast addresses left out). */
  size: number;
  /** The i-th address (i modulo the size). */
  at(i: number): string;
}

function v4ToBig(a: string): bigint {
  return a.split(".").reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBig(a: string): bigint {
  const [head, tail] = a.includes("::") ? a.split("::") : [a, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const expand = (g: string[]): string[] =>
    g.flatMap((x) => (x.includes(".") ? [((Number(v4ToBig(x)) >>> 16) & 0xffff).toString(16), (Number(v4ToBig(x)) & 0xffff).toString(16)] : [x]));
  const hh = expand(h);
  const tt = expand(t);
  const groups = tail !== undefined ? [...hh, ...new Array<string>(8 - hh.length - tt.length).fill("0"), ...tt] : hh;
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g || "0", 16)), 0n);
}

function bigToV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
}

function bigToV6(n: bigint): string {
  const g: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) g.push(((n >> s) & 0xffffn).toString(16));
  return g.join(":");
}

/** "127.0.3.0/24", "fd00::/120", or one address. */
export function parseAddressPool(cidr: string): AddressPool {
  const [addr, bitsText, extra] = cidr.trim().split("/");
  const family = isIP(addr ?? "");
  if ((family !== 4 && family !== 6) || extra !== undefined) throw poolError(`--source: ${JSON.stringify(cidr)} is not an address or CIDR (e.g. 127.0.3.0/24)`);
  const width = family === 4 ? 32 : 128;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > width || (bitsText !== undefined && !/^\d+$/.test(bitsText))) {
    throw poolError(`--source: prefix length must be 0..${width} (got ${JSON.stringify(bitsText)})`);
  }
  const hostBits = BigInt(width - bits);
  const base = ((family === 4 ? v4ToBig(addr) : v6ToBig(addr)) >> hostBits) << hostBits;
  const span = 1n << hostBits;
  // Leave out the network address (and the IPv4 broadcast) where the prefix has room.
  const skipFirst = hostBits >= 2n || (family === 6 && hostBits >= 1n) ? 1n : 0n;
  const skipLast = family === 4 && hostBits >= 2n ? 1n : 0n;
  const count = span - skipFirst - skipLast;
  const size = count > 1_000_000n ? 1_000_000 : Number(count);
  const fmt = family === 4 ? bigToV4 : bigToV6;
  return {
    cidr: `${fmt(base)}/${bits}`,
    family,
    size,
    at: (i: number) => fmt(base + skipFirst + BigInt(i % size)),
  };
}

/** Fails with one clear line when the pool's first address cannot be bound here (not an address of this machine). */
export async function checkBindable(pool: AddressPool): Promise<void> {
  const address = pool.at(0);
  const s = createSocket(pool.family === 6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind({ port: 0, address }, () => resolve());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw poolError(`--source ${pool.cidr}: cannot bind ${address} (${code}): the addresses must be on this machine (all of 127.0.0.0/8 is, on Linux)`, ConfigErrorCode.START);
  } finally {
    s.close();
  }
}
