// The shared HTTP plumbing: the Host check (DNS rebinding) and binding a
// server on loopback with a clean close. Port 0, loopback only.

import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { hostAllowed, hostName, listenHttp } from "../src/index.js";

describe("the Host check (DNS rebinding)", () => {
  it("takes IP addresses, localhost and allowed names, with or without a port", () => {
    const allow = new Set(["tftp-fleet.example"]);
    for (const h of ["127.0.0.1:9070", "127.0.0.1", "[::1]:9070", "localhost:9070", "LOCALHOST", "tftp-fleet.example:443"]) expect(hostAllowed(h, allow), h).toBe(true);
    for (const h of [undefined, "", "attacker.example:9070", "127.0.0.1.nip.io:9070", "localhost.attacker.example"]) expect(hostAllowed(h, allow), String(h)).toBe(false);
  });

  it("reads the name out of a Host header", () => {
    expect(hostName(" Example.ORG:8080 ")).toBe("example.org");
    expect(hostName("[::1]:80")).toBe("::1");
    expect(hostName("[fe80::1]")).toBe("fe80::1");
    expect(hostName(undefined)).toBe("");
  });
});

describe("listenHttp", () => {
  it("resolves with the bound port and URL, serves, then closes open connections", async () => {
    let cleaned = 0;
    const server = createServer((_req, res) => res.end("ok"));
    const l = await listenHttp(server, "127.0.0.1", 0, () => cleaned++);
    expect(l.address.host).toBe("127.0.0.1");
    expect(l.address.port).toBeGreaterThan(0);
    expect(l.url).toBe(`http://127.0.0.1:${l.address.port}`);
    expect(await (await fetch(l.url)).text()).toBe("ok");
    await l.close();
    expect(cleaned).toBe(1);
    expect(server.listening).toBe(false);
  });

  it("puts an IPv6 address in brackets", async () => {
    const server = createServer((_req, res) => res.end("six"));
    let l;
    try {
      l = await listenHttp(server, "::1", 0);
    } catch {
      return; // no IPv6 loopback on this machine
    }
    expect(l.url).toBe(`http://[::1]:${l.address.port}`);
    expect(await (await fetch(l.url)).text()).toBe("six");
    await l.close();
  });

  it("rejects when the port is taken", async () => {
    const first = await listenHttp(createServer(), "127.0.0.1", 0);
    await expect(listenHttp(createServer(), "127.0.0.1", first.address.port)).rejects.toMatchObject({ code: "EADDRINUSE" });
    await first.close();
  });
});
