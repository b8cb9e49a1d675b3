// rootSource and templateSource on their own.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileResponse, TftpError, type ReadRequest } from "@tftpkit/server";
import { TemplateError, rootSource, templateSource } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "tftpkit-sources-"));
const outside = mkdtempSync(join(tmpdir(), "tftpkit-outside-"));
mkdirSync(join(root, "boot"));
writeFileSync(join(root, "boot", "vmlinuz"), "kernel");
writeFileSync(join(outside, "secret"), "secret");
symlinkSync(join(outside, "secret"), join(root, "escape"));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function request(path: string, address = "192.168.1.10"): ReadRequest {
  return {
    path, mode: "octet", options: {}, peer: { address, port: 1234, family: address.includes(":") ? "IPv6" : "IPv4" },
    local: { address: undefined, port: 69 }, signal: new AbortController().signal, sessionId: 1,
  };
}

async function wireCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TftpError) return e.wireCode;
    throw e;
  }
  return -1;
}

describe("rootSource", () => {
  const src = rootSource(root);
  it("answers files under the root", async () => {
    const f = await src("/boot\\vmlinuz");
    expect(f).toBeInstanceOf(FileResponse);
    expect(f.path.endsWith(join("boot", "vmlinuz"))).toBe(true);
  });
  it("refuses paths and symlinks that leave the root (2) and missing files (1)", async () => {
    expect(await wireCode(src("../etc/passwd"))).toBe(2);
    expect(await wireCode(src("escape"))).toBe(2);
    expect(await wireCode(src("nope"))).toBe(1);
  });
  it("tryFile: undefined for a missing file, errors otherwise", async () => {
    expect(await src.tryFile("nope")).toBeUndefined();
    expect(await src.tryFile("boot/vmlinuz")).toBeInstanceOf(FileResponse);
    expect(await wireCode(src.tryFile("escape"))).toBe(2);
  });
});

describe("templateSource", () => {
  it("renders base variables: address forms, MAC, serial, path", async () => {
    const t = templateSource({
      templates: { "cfg": "{{ip}} {{family}} {{#if hexIp}}{{hexIp}}{{/if}} {{#if mac}}{{mac}} {{macHyphen}}{{/if}}{{#if serial}}{{serial}}{{/if}} {{rest}} {{path}}" },
    });
    expect(await t(request("cfg"))).toBe("192.168.1.10 IPv4 C0A8010A  cfg cfg");
    expect(await t(request("AA:BB:CC:DD:EE:FF/cfg", "::ffff:10.0.0.1"))).toBe(
      "10.0.0.1 IPv4 0A000001 aa:bb:cc:dd:ee:ff aa-bb-cc-dd-ee-ff cfg AA:BB:CC:DD:EE:FF/cfg");
    expect(await t(request("1234ABCD/cfg", "2001:db8::5"))).toBe("2001:db8::5 IPv6  1234abcd cfg 1234ABCD/cfg");
  });

  it("answers undefined when no template matches (to fall through)", async () => {
    const t = templateSource({ templates: { a: "x" } });
    expect(await t(request("b"))).toBeUndefined();
    const named = templateSource({ templates: { a: "x" }, name: (p) => (p.rest === "b" ? undefined : "a") });
    expect(await named(request("b"))).toBeUndefined();
    expect(await named(request("c"))).toBe("x");
  });

  it("gives the lookup the request and the parsed path; its variables win", async () => {
    const seen: string[] = [];
    const t = templateSource({
      templates: { "boot.ipxe": "{{hostname}} {{ip}}" },
      vars: (req, { client, path, name }) => {
        seen.push(`${req.sessionId} ${client.ip} ${path.mac} ${name}`);
        return Promise.resolve({ hostname: "h1", ip: "overridden" });
      },
    });
    expect(await t(request("01-aa-bb-cc-dd-ee-ff/boot.ipxe"))).toBe("h1 overridden");
    expect(seen).toEqual(["1 192.168.1.10 aa:bb:cc:dd:ee:ff boot.ipxe"]);
  });

  it("reads templates from a folder, through the secure resolver, again when they change", async () => {
    const dir = join(root, "templates");
    mkdirSync(join(dir, "grub"), { recursive: true });
    const file = join(dir, "grub", "grub.cfg");
    writeFileSync(file, "v1 {{ip}}");
    const t = templateSource({ dir, templates: { inline: "i" } });
    expect(await t(request("grub/grub.cfg-01-aa-bb-cc-dd-ee-ff"))).toBe("v1 192.168.1.10");
    writeFileSync(file, "version 2 {{ip}}");
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await t(request("grub/grub.cfg"))).toBe("version 2 192.168.1.10");
    expect(await t(request("inline"))).toBe("i");
    expect(await t(request("missing"))).toBeUndefined();
    expect(await wireCode(t(request("../boot/vmlinuz")))).toBe(2);
    expect(await t(request("grub"))).toBeUndefined(); // a folder is no template
  });

  it("turns template errors into ERROR 0 naming the template; syntax errors of inline templates fail at once", async () => {
    const t = templateSource({ templates: { a: "{{missing}}" } });
    const err = await t(request("a")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TftpError);
    expect((err as TftpError).wireCode).toBe(0);
    expect((err as TftpError).message).toBe("Template a: line 1: {{missing}} is not set");
    expect(() => templateSource({ templates: { bad: "{{#if x}}" } })).toThrow(TemplateError);
    expect(() => templateSource({ templates: { bad: "{{#if x}}" } })).toThrow(/template bad: line 1/);
  });

  it("lets the lookup refuse a client with its own TftpError", async () => {
    const t = templateSource({ templates: { a: "x" }, vars: () => { throw TftpError.accessViolation("Not enrolled"); } });
    const err = (await t(request("a")).catch((e: unknown) => e)) as TftpError;
    expect([err.wireCode, err.message]).toEqual([2, "Not enrolled"]);
  });
});
