// The fleet server with a member that does not answer: the others' rows
// still come (here: none), each answer says which member failed and why,
// the page is served with its CSP, and nothing but GET is accepted.

import { createServer, request, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type FleetServer } from "../src/fleet.js";
import { DASHBOARD_CSP } from "../src/static.js";

let fleet: FleetServer;
let closedPort = 0;

beforeAll(async () => {
  // A port that was just free: nothing listens there.
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  closedPort = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  fleet = await startFleet({ members: [{ name: "gone", url: `http://127.0.0.1:${closedPort}` }], host: "127.0.0.1", port: 0, timeoutMs: 2000 });
});

afterAll(() => fleet?.close());

describe("tftpkit-dashboard with a member down", () => {
  it("listens on the loopback address it was given", () => {
    expect(fleet.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("reports the member as down in /healthz, stats, sessions and flows", async () => {
    const health = (await (await fetch(`${fleet.url}/healthz`)).json()) as { status: string; servers: Array<{ server: string; ok: boolean; error?: string }> };
    expect(health.status).toBe("down");
    expect(health.servers).toHaveLength(1);
    expect(health.servers[0]).toMatchObject({ server: "gone", ok: false });
    expect(health.servers[0].error).toMatch(/ECONNREFUSED/);
    const stats = (await (await fetch(`${fleet.url}/api/v1/stats`)).json()) as { servers: Array<{ ok: boolean }>; topFiles: unknown[] };
    expect(stats.servers).toEqual([expect.objectContaining({ server: "gone", ok: false })]);
    expect(stats.topFiles).toEqual([]);
    const sessions = (await (await fetch(`${fleet.url}/api/v1/sessions`)).json()) as { sessions: unknown[]; servers: unknown[] };
    expect(sessions.sessions).toEqual([]);
    expect(sessions.servers).toEqual([expect.objectContaining({ server: "gone", ok: false })]);
    const flows = (await (await fetch(`${fleet.url}/api/v1/flows?limit=5`)).json()) as { flows: unknown[] };
    expect(flows.flows).toEqual([]);
  });

  it("says on the event stream that the member's stream failed", async () => {
    const ac = new AbortController();
    const res = await fetch(`${fleet.url}/api/v1/events`, { signal: ac.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/event: member\ndata: .*"ok":false/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    ac.abort();
    expect(text).toMatch(/event: member\ndata: \{"server":"gone","ok":false,"error":"[^"]*ECONNREFUSED/);
  });

  it("serves the page with the CSP, and refuses anything but GET", async () => {
    const page = await fetch(`${fleet.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    expect((await fetch(`${fleet.url}/api/v1/drain`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${fleet.url}/api/v1/nothing`)).status).toBe(404);
  });
});

describe("the Host check (DNS rebinding)", () => {
  it("refuses a request whose Host names another site (421), page and API alike", async () => {
    const { port } = new URL(fleet.url);
    const status = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", reject)
          .end();
      });
    expect(await status("/", "rebound.attacker.example")).toBe(421);
    expect(await status("/api/v1/flows", `rebound.attacker.example:${port}`)).toBe(421);
    expect(await status("/", `127.0.0.1:${port}`)).toBe(200);
    expect(await status("/", `localhost:${port}`)).toBe(200);
  });
});
