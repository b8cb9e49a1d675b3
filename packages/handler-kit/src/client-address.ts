// Who is asking: the client's address in the forms boot configs use.

import { isIPv4, isIPv6 } from "node:net";

export interface ClientAddress {
  /** IPv4 dotted quad (an IPv4-mapped IPv6 address unwrapped), or IPv6 in lower case without zone. */
  ip: string;
  family: "IPv4" | "IPv6";
  /** The IPv4 address as 8 upper-case hex digits, as pxelinux names its config files (192.168.1.10 -> C0A8010A). */
  hexIp: string | undefined;
  /** IPv6 zone (fe80::1%eth0 -> "eth0"). */
  zone: string | undefined;
}

/** Normalises an address as a socket reports it. Throws TypeError for something that is not an IP address. */
export function clientAddress(address: string): ClientAddress {
  let a = address.trim();
  let zone: string | undefined;
  const pct = a.indexOf("%");
  if (pct >= 0) {
    zone = a.slice(pct + 1);
    a = a.slice(0, pct);
  }
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  // IPv4-mapped IPv6 (::ffff:192.168.1.10, as a dual-stack socket reports IPv4 peers).
  const mapped = /^(?:::|(?:0{1,4}:){5})ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped && isIPv4(mapped[1])) a = mapped[1];
  if (isIPv4(a)) return { ip: a, family: "IPv4", hexIp: ipv4Hex(a), zone: undefined };
  if (isIPv6(a)) return { ip: a.toLowerCase(), family: "IPv6", hexIp: undefined, zone };
  throw new TypeError(`not an IP address: ${address}`);
}

/** 192.168.1.10 -> "C0A8010A". */
export function ipv4Hex(ipv4: string): string {
  if (!isIPv4(ipv4)) throw new TypeError(`not an IPv4 address: ${ipv4}`);
  return ipv4.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("").toUpperCase();
}

// "C0A8010A" -> 192.168.1.10 lives beside the boot path parse, in @tftpkit/server.
export { hexToIpv4 } from "@tftpkit/server";
