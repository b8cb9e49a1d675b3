// What boot file names say about the client (moved here from @tftpkit/handler-kit,
// which re-exports parseBootPath), and the identity a boot flow records.

import { describe, expect, it } from "vitest";
import { TftpError, bootIdentity, hexToIpv4, parseBootPath } from "../src/index.js";

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
    ["boot.ipxe?mac=52:54:00:AB:cd:ef", { kind: "query-mac", mac: "52:54:00:ab:cd:ef", rest: "boot.ipxe", path: "boot.ipxe" }],
    ["ipxe/boot.ipxe?uuid=x&mac=52%3A54%3A00%3Aab%3Acd%3Aef", { kind: "query-mac", mac: "52:54:00:ab:cd:ef", rest: "ipxe/boot.ipxe" }],
    ["01-aa-bb-cc-dd-ee-ff/boot.ipxe?mac=52:54:00:ab:cd:ef", { kind: "mac-folder", mac: "aa:bb:cc:dd:ee:ff", rest: "boot.ipxe" }],
    ["boot.ipxe?mac=52:54:00", { kind: undefined, mac: undefined, rest: "boot.ipxe?mac=52:54:00" }],
    ["boot.ipxe?xmac=52:54:00:ab:cd:ef", { kind: undefined, mac: undefined }],
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

describe("bootIdentity", () => {
  it("names the machine by MAC, serial or IPv4 (from hex), else nobody", () => {
    expect(bootIdentity("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toEqual({ kind: "mac", value: "aa:bb:cc:dd:ee:ff" });
    expect(bootIdentity("grub/grub.cfg-01-AA-BB-CC-DD-EE-01")).toEqual({ kind: "mac", value: "aa:bb:cc:dd:ee:01" });
    expect(bootIdentity("pxelinux.cfg/C0A8010A")).toEqual({ kind: "ip", value: "192.168.1.10" });
    expect(bootIdentity("1234ABCD/start4.elf")).toEqual({ kind: "serial", value: "1234abcd" });
    expect(bootIdentity("boot.ipxe?mac=52:54:00:ab:cd:ef")).toEqual({ kind: "mac", value: "52:54:00:ab:cd:ef" });
    expect(bootIdentity("pxelinux.cfg/default")).toBeUndefined();
    expect(bootIdentity("../etc/passwd")).toBeUndefined();
    expect(bootIdentity("")).toBeUndefined();
    expect(hexToIpv4("0A000005")).toBe("10.0.0.5");
  });

  it("answers a name asked again the same (kept, and not to be altered by who got it)", () => {
    const name = "pxelinux.cfg/01-aa-bb-cc-dd-ee-0f";
    const first = bootIdentity(name)!;
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => {
      (first as { value: string }).value = "x";
    }).toThrow(TypeError);
    expect(bootIdentity(name)).toEqual({ kind: "mac", value: "aa:bb:cc:dd:ee:0f" });
    expect(bootIdentity("pxelinux.cfg/default")).toBeUndefined();
    expect(bootIdentity("pxelinux.cfg/default")).toBeUndefined();
  });
});
