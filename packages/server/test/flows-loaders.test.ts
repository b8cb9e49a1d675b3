// Boot flows that know boot loaders: each known loader's exact request
// order (names and options as that loader sends them), from sessions over
// loopback against a real TftpServer. Misses inside a known config search
// are "search-miss" (0 failed steps), each step has its stage, each flow its
// loader chain; a search that finds nothing fails the flow. Each machine is a
// client on its own loopback address; every wait is bounded.

import { SpanStatusCode } from "@opentelemetry/api";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BOOT_SEQUENCES, TftpError, createOtelInstrumentation, type BootFlow, type ReadHandler, type ReadResponse } from "../src/index.js";
import * as A from "../src/observe/attributes.js";
import { searchOf, stageOfName } from "../src/observe/boot-loaders.js";
import { UdpClient, closeAllClients, errorPacket, get as rawGet, rrq, type OptionList } from "./helpers/client.js";
import { bytes, closeAllServers, startServer, type TestServer } from "./helpers/server.js";
import { otelHarness } from "./helpers/otel.js";

const MAC = "52-54-00-12-34-56";
const UUID = "b8945908-d6a6-41a9-611d-74a6ab80b83d";
/** 192.168.1.10 and its prefixes, as PXELINUX, U-Boot and GRUB ask them. */
const HEX_IPS = ["C0A8010A", "C0A8010", "C0A801", "C0A80", "C0A8", "C0A", "C0", "C"];

const files: Record<string, Buffer> = {
  "pxelinux.0": bytes(4000),
  "ldlinux.c32": bytes(3000),
  "pxelinux.cfg/default": Buffer.from("DEFAULT linux\n"),
  "vmlinuz": bytes(9000),
  "initrd.img": bytes(5000),
  "boot/grub/x86_64-efi/core.efi": bytes(6000),
  "boot/grub/x86_64-efi/command.lst": Buffer.from("x\n"),
  "boot/grub/x86_64-efi/normal.mod": bytes(2000),
  "boot/grub/grub.cfg": Buffer.from("linux /vmlinuz\ninitrd /initrd.img\n"),
  "Image": bytes(7000),
  "uInitrd": bytes(3000),
  "sun50i-a64-pine64.dtb": bytes(1000),
  "undionly.kpxe": bytes(3000),
  "boot.ipxe": Buffer.from("#!ipxe\nkernel vmlinuz\ninitrd initrd.img\nboot\n"),
};

let answer: (path: string, body: Buffer) => ReadResponse = (_p, body) => body;
const handler: ReadHandler = (req) => {
  const f = files[req.path];
  if (!f) throw TftpError.notFound();
  return answer(req.path, f);
};

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
  answer = (_p, body) => body;
});

interface Ask {
  name: string;
  options: OptionList;
  /** The UEFI size probe: ERROR 8 after the OACK. */
  probe?: boolean;
}

const opts = (o: Record<string, string>): OptionList => Object.entries(o);
/** What each loader sends with every request. */
const EDK2 = opts({ tsize: "0", blksize: "1468", windowsize: "4" });
const BIOS_ROM = opts({ tsize: "0", blksize: "1456" });
const PXELINUX = opts({ tsize: "0", blksize: "1408" });
const GRUB = opts({ blksize: "1024", tsize: "0" });
const UBOOT = opts({ timeout: "5", tsize: "0", blksize: "1468" });
const IPXE = opts({ tsize: "0", blksize: "1432" });

/** Sends the requests in order from one machine (one client socket per request, as loaders do), each to its end. */
async function boot(srv: TestServer, address: string, asks: Ask[]): Promise<BootFlow> {
  for (const a of asks) {
    const c = await UdpClient.open(address);
    if (a.probe) {
      c.send(rrq(a.name, "octet", a.options), srv.port, "127.0.0.1");
      const oack = await c.recv();
      expect(oack.pkt.op).toBe("OACK");
      c.send(errorPacket(8, "User aborted the transfer"), oack.port, "127.0.0.1");
    } else {
      const r = await rawGet(c, srv.port, a.name, { host: "127.0.0.1", options: a.options });
      if (files[a.name]) expect(r.data.equals(files[a.name])).toBe(true);
      else expect(r.error?.code).toBe(1);
    }
    c.close();
    await srv.session((s) => s.peer.address === address && s.path === a.name && s.peer.port === c.port);
  }
  return srv.server.flows({ client: address })[0];
}

const ask = (options: OptionList, ...names: string[]): Ask[] => names.map((name) => ({ name, options }));
const outcomes = (f: BootFlow) => f.steps.map((s) => s.outcome);
const stages = (f: BootFlow) => f.steps.map((s) => s.stage);
const repeat = <T>(v: T, n: number): T[] => Array.from({ length: n }, () => v);

describe("the sequence table", () => {
  it("declares the pxelinux.cfg, grub.cfg and autoexec.ipxe searches and the UEFI size probe", () => {
    expect(BOOT_SEQUENCES.map((s) => s.id)).toEqual(["pxelinux.cfg", "grub.cfg", "autoexec.ipxe", "uefi-probe"]);
    expect(searchOf(`pxelinux.cfg/01-${MAC}`)).toMatchObject({ search: { id: "pxelinux.cfg" }, fallback: false });
    expect(searchOf(`tftpboot/pxelinux.cfg/${UUID}`)).toMatchObject({ search: { id: "pxelinux.cfg" }, fallback: false });
    for (const h of HEX_IPS) expect(searchOf(`pxelinux.cfg/${h}`)?.fallback).toBe(false);
    expect(searchOf("pxelinux.cfg/default-arm-sunxi")?.fallback).toBe(false);
    expect(searchOf("pxelinux.cfg/default")).toMatchObject({ search: { id: "pxelinux.cfg" }, fallback: true });
    expect(searchOf(`boot/grub/grub.cfg-01-${MAC}`)).toMatchObject({ search: { id: "grub.cfg" }, fallback: false });
    expect(searchOf("boot/grub/grub.cfg-0")?.fallback).toBe(false);
    expect(searchOf("/boot/grub/grub.cfg")).toMatchObject({ search: { id: "grub.cfg" }, fallback: true });
    expect(searchOf("autoexec.ipxe")).toMatchObject({ search: { id: "autoexec.ipxe" }, fallback: false });
    // Names that only look alike are not in a search.
    for (const n of ["pxelinux.cfg/menu.c32", "grub.cfg.bak", "grub.cfg-default", "mygrub.cfg-01", "pxelinux.cfg/01-aa-bb", "autoexec.ipxe.old"]) expect(searchOf(n)).toBeUndefined();
  });

  it("stages from names: programs, configs, kernels, initrds", () => {
    expect(["pxelinux.0", "bootx64.efi", "undionly.kpxe", "ldlinux.c32", "x86_64-efi/normal.mod", "start4.elf"].map((n) => stageOfName(n))).toEqual(repeat("boot-program", 6));
    expect(["boot.ipxe", "grub/grub.cfg", "pxelinux.cfg/default", "extlinux.conf", "boot.scr"].map((n) => stageOfName(n))).toEqual(repeat("config", 5));
    expect(["vmlinuz", "boot/vmlinuz-6.1.0-amd64", "bzImage", "Image", "zImage", "linux"].map((n) => stageOfName(n))).toEqual(repeat("kernel", 6));
    expect(["initrd.img", "initramfs-linux.img", "uInitrd", "rootfs.cpio.gz"].map((n) => stageOfName(n))).toEqual(repeat("initrd", 4));
    expect(stageOfName("some/blob")).toBeUndefined();
  });
});

describe("each loader's exact request order", () => {
  it("PXELINUX (BIOS): pxelinux.0, ldlinux.c32, uuid, 01-<mac>, hex-IP prefixes C0A8010A..C, default, kernel, initrd: 10 search misses, 0 failed", async () => {
    const srv = await startServer({ handler });
    const f = await boot(srv, "127.0.30.1", [
      ...ask(BIOS_ROM, "pxelinux.0"),
      ...ask(PXELINUX, "ldlinux.c32", `pxelinux.cfg/${UUID}`, `pxelinux.cfg/01-${MAC}`, ...HEX_IPS.map((h) => `pxelinux.cfg/${h}`), "pxelinux.cfg/default", "vmlinuz", "initrd.img"),
    ]);
    expect(outcomes(f)).toEqual(["ok", "ok", ...repeat("search-miss", 10), "ok", "ok", "ok"]);
    expect(stages(f)).toEqual(["boot-program", "boot-program", ...repeat("config", 11), "kernel", "initrd"]);
    expect(f).toMatchObject({ failedSteps: 0, searchMisses: 10, failed: false, loaderChain: ["BIOS PXE", "PXELINUX", "Linux"] });
    expect(f.noConfig).toBeUndefined();
    expect(f.identity).toEqual({ kind: "mac", value: "52:54:00:12:34:56" });
  }, 30_000);

  it("GRUB 2 from grub-mknetdir under UEFI PXE: size probe, core.efi, modules, grub.cfg-01-<mac>, grub.cfg-0A00020F..0, grub.cfg, kernel, initrd", async () => {
    const srv = await startServer({ handler });
    const hex = ["0A00020F", "0A00020", "0A0002", "0A000", "0A00", "0A0", "0A", "0"];
    const f = await boot(srv, "127.0.30.2", [
      { name: "boot/grub/x86_64-efi/core.efi", options: EDK2, probe: true },
      ...ask(EDK2, "boot/grub/x86_64-efi/core.efi"),
      ...ask(GRUB, "boot/grub/x86_64-efi/command.lst", "boot/grub/x86_64-efi/normal.mod", `boot/grub/grub.cfg-01-${MAC}`, ...hex.map((h) => `boot/grub/grub.cfg-${h}`), "boot/grub/grub.cfg", "vmlinuz", "initrd.img"),
    ]);
    expect(outcomes(f)).toEqual(["probe", "ok", "ok", "ok", ...repeat("search-miss", 9), "ok", "ok", "ok"]);
    expect(stages(f)).toEqual([...repeat("boot-program", 4), ...repeat("config", 10), "kernel", "initrd"]);
    expect(f).toMatchObject({ failedSteps: 0, searchMisses: 9, failed: false, loaderChain: ["UEFI PXE", "GRUB", "Linux"] });
  }, 30_000);

  it("U-Boot pxe get (timeout 5): 01-<mac>, hex-IP prefixes, default-<arch>-<soc>, default-<arch>, default, then kernel, initrd, device tree", async () => {
    const srv = await startServer({ handler });
    const f = await boot(srv, "127.0.30.3", ask(UBOOT,
      `pxelinux.cfg/01-${MAC}`, ...HEX_IPS.map((h) => `pxelinux.cfg/${h}`), "pxelinux.cfg/default-arm-sunxi", "pxelinux.cfg/default-arm", "pxelinux.cfg/default",
      "Image", "uInitrd", "sun50i-a64-pine64.dtb"));
    expect(outcomes(f)).toEqual([...repeat("search-miss", 11), "ok", "ok", "ok", "ok"]);
    expect(stages(f)).toEqual([...repeat("config", 12), "kernel", "initrd", "other"]);
    expect(f).toMatchObject({ failedSteps: 0, searchMisses: 11, failed: false, loaderChain: ["U-Boot", "Linux"] });
  }, 30_000);

  it("iPXE chainloaded from the BIOS ROM (blksize 1432): undionly.kpxe, autoexec.ipxe (missing), boot.ipxe, kernel, initrd", async () => {
    const srv = await startServer({ handler });
    const f = await boot(srv, "127.0.30.4", [...ask(BIOS_ROM, "undionly.kpxe"), ...ask(IPXE, "autoexec.ipxe", "boot.ipxe", "vmlinuz", "initrd.img")]);
    expect(outcomes(f)).toEqual(["ok", "search-miss", "ok", "ok", "ok"]);
    expect(stages(f)).toEqual(["boot-program", "config", "config", "kernel", "initrd"]);
    expect(f).toMatchObject({ failedSteps: 0, searchMisses: 1, failed: false, loaderChain: ["BIOS PXE", "iPXE", "Linux"] });
  }, 30_000);
});

it("curl's options (tsize, blksize 512, timeout 5 last) are no loader's: the chain comes from the names", async () => {
  const srv = await startServer({ handler });
  const CURL = opts({ tsize: "0", blksize: "512", timeout: "5" });
  const f = await boot(srv, "127.0.30.5", ask(CURL, "pxelinux.0", "pxelinux.cfg/default", "vmlinuz"));
  expect(f.loaderChain).toEqual(["BIOS PXE", "PXELINUX", "Linux"]);
}, 30_000);

describe("a search that finds nothing", () => {
  it("PXELINUX with no config at all: the misses are search misses, default missing too is a failure, and the flow fails", async () => {
    const srv = await startServer({ handler });
    const f = await boot(srv, "127.0.31.1", ask(PXELINUX, `empty/pxelinux.cfg/01-${MAC}`, "empty/pxelinux.cfg/C0A8010A", "empty/pxelinux.cfg/C", "empty/pxelinux.cfg/default"));
    expect(outcomes(f)).toEqual(["search-miss", "search-miss", "search-miss", "not-found"]);
    expect(f).toMatchObject({ failedSteps: 1, searchMisses: 3, failed: true, noConfig: "pxelinux.cfg" });
  }, 30_000);

  it("GRUB whose search stops (the machine gives up) before grub.cfg: the flow fails when it ends", async () => {
    const srv = await startServer({ handler, flowIdleSeconds: 0.2 });
    const f = await boot(srv, "127.0.31.2", ask(GRUB, `boot/grub/grub.cfg-01-${MAC}`, "boot/grub/grub.cfg-C0A8010A"));
    expect(f).toMatchObject({ failedSteps: 0, searchMisses: 2, failed: false, endedAt: null });
    await srv.close(); // ends the open flow
    const [ended] = srv.server.flows({ client: "127.0.31.2" });
    expect(ended).toMatchObject({ failed: true, noConfig: "grub.cfg", failedSteps: 0 });
  }, 30_000);

  it("a config found on the first name ends the search: a later fallback miss is a plain failure, not a missing config", async () => {
    const srv = await startServer({ handler });
    files[`pxelinux.cfg/01-${MAC}`] = Buffer.from("DEFAULT x\n");
    try {
      const f = await boot(srv, "127.0.31.3", ask(PXELINUX, `pxelinux.cfg/01-${MAC}`, "vmlinuz"));
      expect(outcomes(f)).toEqual(["ok", "ok"]);
      expect(f).toMatchObject({ failed: false, searchMisses: 0 });
    } finally {
      delete files[`pxelinux.cfg/01-${MAC}`];
    }
  }, 30_000);
});

describe("the handler sets a step's stage", () => {
  it("`stage` on the read answer wins over the name; an unknown stage is ignored", async () => {
    const srv = await startServer({ handler });
    files["blobs/a"] = bytes(100);
    files["blobs/b"] = bytes(100);
    try {
      answer = (path, body) => (path === "blobs/a" ? { body, stage: "initrd" } : path === "blobs/b" ? { body, stage: "nonsense" as never } : body);
      const f = await boot(srv, "127.0.32.1", ask(PXELINUX, "pxelinux.0", "blobs/a", "blobs/b"));
      // blobs/b has no name the flow knows: the order decides (after an initrd: other).
      expect(stages(f)).toEqual(["boot-program", "initrd", "other"]);
    } finally {
      delete files["blobs/a"];
      delete files["blobs/b"];
    }
  }, 30_000);

  it("without names it knows, the order decides: first file boot program, first after a config the kernel, then the initrd", async () => {
    const srv = await startServer({ handler });
    Object.assign(files, { "m/nbp": bytes(10), "m/k": bytes(10), "m/i": bytes(10), "m/x": bytes(10) });
    try {
      const f = await boot(srv, "127.0.32.2", ask([], "m/nbp", "boot.ipxe", "m/k", "m/i", "m/x"));
      expect(stages(f)).toEqual(["boot-program", "config", "kernel", "initrd", "other"]);
    } finally {
      for (const k of ["m/nbp", "m/k", "m/i", "m/x"]) delete files[k];
    }
  }, 30_000);
});

describe("spans", () => {
  const otel = otelHarness();
  afterAll(() => otel.shutdown());

  it("a search miss's session span is no error and carries its stage; the boot span carries the chain, the misses and no failure", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation });
    await boot(srv, "127.0.33.1", [...ask(BIOS_ROM, "pxelinux.0"), ...ask(PXELINUX, `pxelinux.cfg/01-${MAC}`, "pxelinux.cfg/default", "vmlinuz")]);
    await srv.close();
    const spans = otel.exporter.getFinishedSpans();
    const miss = spans.find((s) => s.attributes[A.ATTR_PATH] === `pxelinux.cfg/01-${MAC}`)!;
    expect(miss.status.code).toBe(SpanStatusCode.UNSET);
    expect(miss.attributes).toMatchObject({ [A.ATTR_OUTCOME]: "not-found", [A.ATTR_SEARCH_MISS]: true, [A.ATTR_STAGE]: "config" });
    expect(miss.attributes[A.ATTR_ERROR_TYPE]).toBeUndefined();
    expect(spans.find((s) => s.attributes[A.ATTR_PATH] === "vmlinuz")!.attributes[A.ATTR_STAGE]).toBe("kernel");
    const boot0 = spans.find((s) => s.name === A.SPAN_BOOT)!;
    expect(boot0.attributes).toMatchObject({
      [A.ATTR_BOOT_LOADER_CHAIN]: "BIOS PXE, PXELINUX, Linux",
      [A.ATTR_BOOT_SEARCH_MISSES]: 1,
      [A.ATTR_BOOT_FAILED_STEPS]: 0,
      [A.ATTR_BOOT_FAILED]: false,
    });
    expect(boot0.status.code).toBe(SpanStatusCode.UNSET);
  }, 30_000);

  it("a flow that found no config has a failed boot span naming the search", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation });
    await boot(srv, "127.0.33.2", ask(GRUB, `grub.cfg-01-${MAC}`, "grub.cfg"));
    await srv.close();
    const boot0 = otel.exporter.getFinishedSpans().find((s) => s.name === A.SPAN_BOOT)!;
    expect(boot0.attributes).toMatchObject({ [A.ATTR_BOOT_FAILED]: true, [A.ATTR_BOOT_NO_CONFIG]: "grub.cfg", [A.ATTR_BOOT_FAILED_STEPS]: 1 });
    expect(boot0.status).toMatchObject({ code: SpanStatusCode.ERROR, message: "no config found (grub.cfg)" });
  }, 30_000);
});
