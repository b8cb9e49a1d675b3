// Client addresses and what boot file names say about the client.

import { describe, expect, it } from "vitest";
import { parseBootPath as serverParseBootPath } from "@tftpkit/server";
import { clientAddress, hexToIpv4, ipv4Hex, parseBootPath } from "../src/index.js";

describe("clientAddress", () => {
  it("IPv4, with its pxelinux hex form", () => {
    expect(clientAddress("192.168.1.10")).toEqual({ ip: "192.168.1.10", family: "IPv4", hexIp: "C0A8010A", zone: undefined });
    expect(ipv4Hex("10.0.0.255")).toBe("0A0000FF");
    expect(hexToIpv4("C0A8010A")).toBe("192.168.1.10");
  });

  it("IPv4-mapped IPv6 is unwrapped to IPv4", () => {
    expect(clientAddress("::ffff:10.1.2.3")).toMatchObject({ ip: "10.1.2.3", family: "IPv4", hexIp: "0A010203" });
    expect(clientAddress("::FFFF:10.1.2.3").ip).toBe("10.1.2.3");
    expect(clientAddress("0:0:0:0:0:ffff:10.1.2.3").ip).toBe("10.1.2.3");
  });

  it("IPv6 in lower case, zone apart, no hex form", () => {
    expect(clientAddress("2001:DB8::1")).toEqual({ ip: "2001:db8::1", family: "IPv6", hexIp: undefined, zone: undefined });
    expect(clientAddress("fe80::1%eth0")).toMatchObject({ ip: "fe80::1", zone: "eth0" });
    expect(clientAddress("::1").family).toBe("IPv6");
  });

  it("refuses what is not an address", () => {
    expect(() => clientAddress("node-1")).toThrow(TypeError);
    expect(() => ipv4Hex("::1")).toThrow(TypeError);
    expect(() => hexToIpv4("C0A801")).toThrow(TypeError);
  });
});

// parseBootPath moved to @tftpkit/server (its tests: packages/server/test/bootpath.test.ts); this package re-exports it.

describe("parseBootPath (re-exported)", () => {
  it("is the server package's parse, not a copy", () => {
    expect(parseBootPath).toBe(serverParseBootPath);
    expect(parseBootPath("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff").mac).toBe("aa:bb:cc:dd:ee:ff");
  });
});
