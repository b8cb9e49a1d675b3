// The netboot example (examples/netboot/) under a real `tftpkit serve --http`:
// each loader's exact request sequence, from its own loopback address (curl
// for TFTP and HTTP), gets the machine's config from the inventory by MAC or
// IP, misses where the loader expects misses, and the kernel and initrd the
// config names come over the HTTP stage byte for byte.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CURL, curlTftp, hasCurl, startCli, stopAllClis, tempTree, waitFor, type Cli } from "./helpers.js";

const HANDLER = fileURLToPath(new URL("../../../examples/netboot/handler.js", import.meta.url));
const files = {
  "undionly.kpxe": randomBytes(70_000),
  "ipxe.efi": randomBytes(90_000),
  "lpxelinux.0": randomBytes(40_000),
  "ldlinux.c32": randomBytes(120_000),
  "boot/grub/x86_64-efi/core.efi": randomBytes(200_000),
  "boot/grub/x86_64-efi/command.lst": "linux: linux\n",
  "boot/grub/x86_64-efi/fs.lst": "tftp\n",
  "boot/grub/x86_64-efi/crypto.lst": "RIJNDAEL: gcry_rijndael\n",
  "boot/grub/x86_64-efi/terminal.lst": "iterminfo_output: terminfo\n",
  "debian/linux": randomBytes(1_500_000),
  "debian/initrd.gz": randomBytes(800_000),
  "fedora/vmlinuz": randomBytes(1_000_000),
  "fedora/initrd.img": randomBytes(500_000),
};
const tree = tempTree(files);
const inventory = join(tree.dir, "..", `machines-${process.pid}.json`);
writeFileSync(inventory, JSON.stringify({
  defaults: { kernel: "debian/linux", initrd: "debian/initrd.gz", args: "console=ttyS0,115200 ip=dhcp" },
  machines: {
    "52:54:00:12:34:01": { hostname: "web1" },
    "52:54:00:12:34:02": { hostname: "web2" },
    "127.0.0.52": { hostname: "pxe1", kernel: "fedora/vmlinuz", initrd: "fedora/initrd.img" },
    "127.0.0.53": { hostname: "grub-by-ip" },
  },
}));

let cli: Cli;
let http = "";

beforeAll(async () => {
  if (!hasCurl) return;
  cli = await startCli(
    ["--root", tree.dir, "--handler", HANDLER, "--http", "127.0.0.1:0", "--http-booted-path", "/booted", "--admin", "127.0.0.1:0", "--log", "off", "--workers", "1"],
    { NETBOOT_MACHINES: inventory },
  );
  http = /tftpkit http on (http:\/\/\S+)/.exec(cli.stderr())![1];
});

afterAll(async () => {
  await stopAllClis();
  tree.cleanup();
});

function curlHttp(url: string, from: string): Promise<{ code: number; status: number; data: Buffer }> {
  return new Promise((resolve) => {
    execFile(CURL, ["-s", "--max-time", "20", "--interface", from, "-o", "-", "-w", "\n%{http_code}", url], { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 }, (err, out) => {
      const nl = out.lastIndexOf(10);
      resolve({ code: err ? -1 : 0, status: Number(out.subarray(nl + 1).toString()), data: out.subarray(0, nl) });
    });
  });
}

/** Asks each name in order over TFTP, as the loader does: [name, found?] for each. */
async function tftpSequence(from: string, names: string[]): Promise<Array<[string, boolean, Buffer]>> {
  const out: Array<[string, boolean, Buffer]> = [];
  for (const n of names) {
    const r = await curlTftp(cli.udpPort, n, from);
    out.push([n, r.code === 0, r.data]);
  }
  return out;
}

interface Flow {
  steps: Array<{ kind: string; path: string; outcome: string }>;
  bootedAt?: number;
}

async function flowOf(client: string, steps: number): Promise<Flow> {
  return waitFor(`the flow of ${client}`, async () => {
    const { flows } = (await (await fetch(`${cli.adminUrl}/api/v1/flows?client=${client}`)).json()) as { flows: Flow[] };
    const f = flows[0];
    return f && f.steps.length === steps && f.steps.every((s) => s.outcome !== "running") ? f : undefined;
  });
}

/** The URLs of the lines that start with `word` (KERNEL, INITRD, kernel, initrd, linux). */
function urlsOf(text: string, word: RegExp): string[] {
  return [...text.matchAll(new RegExp(`^\\s*${word.source}\\s+(?:--name \\S+ )?(\\S+)`, "gm"))].map((m) => m[1]);
}

describe.skipIf(!hasCurl)("examples/netboot", () => {
  it("PXELINUX: UUID and MAC miss, the full hex IP is the machine's config; kernel and initrd over HTTP", async () => {
    const me = "127.0.0.52"; // 7F000034
    const seq = await tftpSequence(me, [
      "lpxelinux.0",
      "ldlinux.c32",
      "pxelinux.cfg/8a2d0c8e-1f3b-4c55-9d1e-6b7a0f2e3c4d",
      "pxelinux.cfg/01-52-54-00-aa-bb-cc",
      "pxelinux.cfg/7F000034",
    ]);
    expect(seq.map(([n, ok]) => [n, ok])).toEqual([
      ["lpxelinux.0", true],
      ["ldlinux.c32", true],
      ["pxelinux.cfg/8a2d0c8e-1f3b-4c55-9d1e-6b7a0f2e3c4d", false],
      ["pxelinux.cfg/01-52-54-00-aa-bb-cc", false],
      ["pxelinux.cfg/7F000034", true],
    ]);
    const cfg = seq[4][2].toString();
    expect(cfg).toMatch(/^DEFAULT pxe1$/m);
    expect(cfg).toMatch(/APPEND console=ttyS0,115200 ip=dhcp hostname=pxe1/);
    const [kernel] = urlsOf(cfg, /KERNEL/);
    const [initrd] = urlsOf(cfg, /INITRD/);
    expect(kernel.startsWith(`${http}/fedora/vmlinuz`)).toBe(true);
    const k = await curlHttp(kernel, me);
    expect(k.data.equals(files["fedora/vmlinuz"])).toBe(true);
    const i = await curlHttp(initrd, me);
    expect(i.data.equals(files["fedora/initrd.img"])).toBe(true);
    const flow = await flowOf(me, 7);
    expect(flow.steps.map((s) => `${s.kind} ${s.path} ${s.outcome}`)).toEqual([
      "read lpxelinux.0 ok",
      "read ldlinux.c32 ok",
      "read pxelinux.cfg/8a2d0c8e-1f3b-4c55-9d1e-6b7a0f2e3c4d search-miss",
      "read pxelinux.cfg/01-52-54-00-aa-bb-cc search-miss",
      "read pxelinux.cfg/7F000034 ok",
      "http fedora/vmlinuz ok",
      "http fedora/initrd.img ok",
    ]);
  });

  it("PXELINUX, a machine not in the inventory: every hex prefix misses, default boots the local disk", async () => {
    const me = "127.0.0.54"; // 7F000036
    const names = ["01-52-54-00-aa-bb-dd", "7F000036", "7F00003", "7F0000", "7F000", "7F00", "7F0", "7F", "7", "default"].map((n) => `pxelinux.cfg/${n}`);
    const seq = await tftpSequence(me, ["lpxelinux.0", "ldlinux.c32", ...names]);
    expect(seq.filter(([, ok]) => ok).map(([n]) => n)).toEqual(["lpxelinux.0", "ldlinux.c32", "pxelinux.cfg/default"]);
    expect(seq.at(-1)![2].toString()).toMatch(/^DEFAULT local\nLABEL local\n {2}LOCALBOOT 0\n/);
  });

  it("GRUB EFI (grub-mknetdir): modules, then grub.cfg-01-<mac> is the machine's menu with HTTP kernel and initrd", async () => {
    const me = "127.0.0.55";
    const seq = await tftpSequence(me, [
      "boot/grub/x86_64-efi/core.efi",
      "boot/grub/x86_64-efi/command.lst",
      "boot/grub/x86_64-efi/fs.lst",
      "boot/grub/x86_64-efi/crypto.lst",
      "boot/grub/x86_64-efi/terminal.lst",
      "boot/grub/grub.cfg-01-52-54-00-12-34-02",
    ]);
    expect(seq.every(([, ok]) => ok)).toBe(true);
    const cfg = seq.at(-1)![2].toString();
    expect(cfg).toContain('menuentry "web2 (127.0.0.55)"');
    const port = new URL(http).port;
    const [linux] = urlsOf(cfg, /linux/);
    const [initrd] = urlsOf(cfg, /initrd/);
    expect(linux.startsWith(`(http,127.0.0.1:${port})/debian/linux`)).toBe(true);
    // What GRUB's http module asks for that device and path.
    const k = await curlHttp(`${http}${linux.slice(linux.indexOf(")") + 1)}`, me);
    expect(k.data.equals(files["debian/linux"])).toBe(true);
    const i = await curlHttp(`${http}${initrd.slice(initrd.indexOf(")") + 1)}`, me);
    expect(i.data.equals(files["debian/initrd.gz"])).toBe(true);
    const flow = await flowOf(me, 8);
    expect(flow.steps.slice(-2).map((s) => `${s.kind} ${s.path} ${s.outcome}`)).toEqual(["http debian/linux ok", "http debian/initrd.gz ok"]);
  });

  it("GRUB by IP: the MAC name misses, grub.cfg-<hex IP> is the machine's; an unknown one gets grub.cfg's local-disk entry", async () => {
    const seq = await tftpSequence("127.0.0.53", ["grub/grub.cfg-01-52-54-00-aa-bb-ee", "grub/grub.cfg-7F000035"]);
    expect(seq.map(([, ok]) => ok)).toEqual([false, true]);
    expect(seq[1][2].toString()).toContain('menuentry "grub-by-ip (127.0.0.53)"');
    const unknown = await tftpSequence("127.0.0.57", ["grub/grub.cfg-01-52-54-00-aa-bb-ff", "grub/grub.cfg-7F000039", "grub/grub.cfg-7F00003", "grub/grub.cfg"]);
    expect(unknown.map(([, ok]) => ok)).toEqual([false, false, false, true]);
    expect(unknown[3][2].toString()).toContain("is not in machines.json: boot from the local disk");
  });

  it("iPXE: the loader over TFTP, autoexec.ipxe misses, boot.ipxe?mac= over HTTP; kernel and initrd over HTTP; the callback marks it booted", async () => {
    const me = "127.0.0.56";
    const seq = await tftpSequence(me, ["undionly.kpxe", "autoexec.ipxe"]);
    expect(seq.map(([, ok]) => ok)).toEqual([true, false]);
    const script = await curlHttp(`${http}/boot.ipxe?mac=52:54:00:12:34:01`, me);
    expect(script.status).toBe(200);
    const text = script.data.toString();
    expect(text).toMatch(/^#!ipxe\n/);
    expect(text).toContain("echo tftpkit netboot: web1 (127.0.0.56)");
    expect(text).toMatch(/^kernel \S+ initrd=initrd console=ttyS0,115200 ip=dhcp hostname=web1$/m);
    const [kernel] = urlsOf(text, /kernel/);
    const [initrd] = urlsOf(text, /initrd/);
    expect((await curlHttp(kernel, me)).data.equals(files["debian/linux"])).toBe(true);
    expect((await curlHttp(initrd, me)).data.equals(files["debian/initrd.gz"])).toBe(true);
    expect((await curlHttp(`${http}/booted`, me)).status).toBe(200);
    const flow = await flowOf(me, 5);
    expect(flow.steps.map((s) => `${s.kind} ${s.path} ${s.outcome}`)).toEqual([
      "read undionly.kpxe ok",
      "read autoexec.ipxe search-miss",
      "http boot.ipxe ok",
      "http debian/linux ok",
      "http debian/initrd.gz ok",
    ]);
    expect(flow.bootedAt).toBeGreaterThan(0);
    // An unknown machine's iPXE script boots the local disk.
    const other = (await curlTftp(cli.udpPort, "boot.ipxe", "127.0.0.58")).data.toString();
    expect(other).toContain("is not in machines.json, booting from the local disk\nexit\n");
  });

  it("UEFI HTTP Boot: the firmware fetches its boot program from the HTTP stage directly", async () => {
    const r = await curlHttp(`${http}/ipxe.efi`, "127.0.0.59");
    expect(r.status).toBe(200);
    expect(r.data.equals(files["ipxe.efi"])).toBe(true);
  });
});
