// Client addresses and what boot file names say about the client.

import { describe, expect, it } from "vitest";
import { TftpError } from "@tftpkit/server";
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

describe("parseBootPath", () => {
  const table: Array<[string, Record<string, unknown>]> = [
    ["pxelinux.cfg/01-AA-bb-cc-dd-ee-ff", { kind: "pxelinux-mac", mac: "aa:bb:cc:dd:ee:ff", macHyphen: "aa-bb-cc-dd-ee-ff", rest: "pxelinux.cfg/default" }],
    ["/bios/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", { kind: "pxelinux-mac", rest: "bios/pxelinux.cfg/default", path: "bios/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff" }],
    ["pxelinux.cfg/c0a8010a", { kind: "pxelinux-ip", hexIp: "C0A8010A", rest: "pxelinux.cfg/default" }],
    ["pxelinux.cfg/C0A801", { kind: undefined, rest: "pxelinux.cfg/C0A801" }],
    ["pxelinux.cfg/default", { kind: undefined, rest: "pxelinux.cfg/default", mac: undefined }],
    ["grub/grub.cfg-01-aa-bb-cc-dd-ee-ff", { kind: "grub-mac", mac: "aa:bb:cc:dd:ee:ff", rest: "grub/grub.cfg" }],
    ["grub.cfg-0A000005", { kind: "grub-ip", hexIp: "0A000005", rest: "grub.cfg" }],
    ["01-aa-bb-cc-dd-ee-ff/boot.ipxe", { kind: "mac-folder", mac: "aa:bb:cc:dd:ee:ff", rest: "boot.ipxe" }],
    ["AA:BB:CC:DD:EE:FF/ipxe/boot.ipxe", { kind: "mac-folder", mac: "aa:bb:cc:dd:ee:ff", rest: "ipxe/boot.ipxe" }],
    ["aa-bb-cc-dd-ee-ff/boot.ipxe", { kind: "mac-folder", mac: "aa:bb:cc:dd:ee:ff" }],
    ["\\1234ABCD\\start4.elf", { kind: "serial-folder", serial: "1234abcd", rest: "start4.elf", path: "1234ABCD/start4.elf" }],
    ["1234abcd", { kind: undefined, serial: undefined, rest: "1234abcd" }],
    ["aa:bb:cc:dd:ee/boot.ipxe", { kind: undefined, mac: undefined }],
    ["aa:bb-cc:dd:ee:ff/boot.ipxe", { kind: undefined }],
    ["./boot//vmlinuz", { kind: undefined, path: "boot/vmlinuz", rest: "boot/vmlinuz" }],
  ];
  for (const [path, want] of table) {
    it(path, () => expect(parseBootPath(path)).toMatchObject(want));
  }

  it("refuses a path that leaves the root (ERROR 2) and an empty one (ERROR 1)", () => {
    const wireCode = (path: string): number | undefined => {
      try {
        parseBootPath(path);
      } catch (e) {
        return e instanceof TftpError ? e.wireCode : -1;
      }
      return undefined;
    };
    expect(wireCode("01-aa-bb-cc-dd-ee-ff/../../etc/passwd")).toBe(2);
    expect(wireCode("../x")).toBe(2);
    expect(wireCode("/")).toBe(1);
  });
});
