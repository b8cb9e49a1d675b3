// Scenario parsing and validation.

import { describe, expect, it } from "vitest";
import { resolveScenario, TftpConfigError } from "../src/index.js";
import { parseChecksums, parseFileWeight, parseTarget, pickFile } from "../src/scenario.js";

describe("scenario", () => {
  it("parses targets", () => {
    expect(parseTarget("127.0.0.1:6969")).toEqual({ host: "127.0.0.1", port: 6969 });
    expect(parseTarget("[::1]:69")).toEqual({ host: "::1", port: 69 });
    expect(parseTarget("::1")).toEqual({ host: "::1", port: 69 });
    expect(parseTarget("localhost")).toEqual({ host: "localhost", port: 69 });
    expect(() => parseTarget("host:99999")).toThrow(TftpConfigError);
  });

  it("parses file weights and sha256sum files", () => {
    expect(parseFileWeight("vmlinuz:3")).toEqual({ name: "vmlinuz", weight: 3 });
    expect(parseFileWeight("pxelinux.cfg/01-aa:bb")).toEqual({ name: "pxelinux.cfg/01-aa:bb", weight: 1 });
    expect(parseFileWeight("a:0.5")).toEqual({ name: "a", weight: 0.5 });
    const sum = "a".repeat(64);
    expect(parseChecksums(`${sum}  boot/kernel\n${"B".repeat(64)} *initrd\nnoise\n`)).toEqual({ "boot/kernel": sum, initrd: "b".repeat(64) });
  });

  it("validates once with clear errors", () => {
    expect(() => resolveScenario({ target: "h:69" })).toThrow(/at least one file/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], sessions: 1, durationSeconds: 1 })).toThrow(/sessions or duration/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], clients: 0 })).toThrow(/clients must be an integer/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], loss: 2 })).toThrow(/loss must be from 0 to 1/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], flow: ["b"] })).toThrow(/files or flow/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], warmup: -1 })).toThrow(/warmup must be an integer/);
    const s = resolveScenario({ target: "h:69", files: ["a:2", { name: "b" }], loss: 0.01, timeoutSeconds: 0.5 });
    expect(s).toMatchObject({ sessions: 1, durationSeconds: Infinity, lossData: 0.01, lossAck: 0.01, dallyMs: 500, files: [{ name: "a", weight: 2 }, { name: "b", weight: 1 }] });
  });

  it("open model: rate, stages, arrival and max-in-flight, with clear errors", () => {
    const s = resolveScenario({ target: "h:69", files: ["a"], rate: 200, durationSeconds: 5, arrival: "poisson", maxInFlight: 50 });
    expect(s).toMatchObject({ rate: 200, arrival: "poisson", maxInFlight: 50, durationSeconds: 5, sessions: Infinity, stages: [] });
    expect(resolveScenario({ target: "h:69", files: ["a"], stages: "30s:100,1m:500" }).stages).toEqual([
      { durationSeconds: 30, target: 100 },
      { durationSeconds: 60, target: 500 },
    ]);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], rate: 10 })).toThrow(/needs --duration, --sessions or --stages/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], rate: 10, durationSeconds: 1, clients: 3 })).toThrow(/--clients .* or --rate/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], maxInFlight: 3 })).toThrow(/max-in-flight is for the open model/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], rate: 10, durationSeconds: 1, arrival: "burst" as "poisson" })).toThrow(/arrival must be constant or poisson/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], stages: "30s" })).toThrow(/DURATION:RATE/);
    expect(resolveScenario({ target: "h:69", files: ["a"] }).rate).toBeNull();
  });

  it("workers: auto gives one per core for large runs only; a number is taken as it is", () => {
    expect(resolveScenario({ target: "h:69", files: ["a"], clients: 2 }).workers).toBe(1);
    expect(resolveScenario({ target: "h:69", files: ["a"], clients: 64 }).workers).toBeGreaterThanOrEqual(1);
    expect(resolveScenario({ target: "h:69", files: ["a"], clients: 64, workers: 3 }).workers).toBe(3);
    expect(resolveScenario({ target: "h:69", files: ["a"], rate: 5, durationSeconds: 1 }).workers).toBe(1);
  });

  it("--source must be a CIDR of the target's family", () => {
    expect(resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "127.0.3.9/24" }).source).toBe("127.0.3.0/24");
    expect(() => resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "fd00::/120" })).toThrow(/IPv6 but the target is IPv4/);
    expect(() => resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "127.0.3.0/40" })).toThrow(/prefix length/);
    expect(() => resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "nonsense" })).toThrow(/not an address or CIDR/);
  });

  it("picks files by weight, and flows in order", () => {
    const s = resolveScenario({ target: "h:69", files: ["a:1", "b:3", "z:0"] });
    expect(pickFile(s, 0, 0)).toBe("a");
    expect(pickFile(s, 0, 0.2499)).toBe("a");
    expect(pickFile(s, 0, 0.25)).toBe("b");
    expect(pickFile(s, 0, 0.9999)).toBe("b");
    const f = resolveScenario({ target: "h:69", flow: ["cfg", "kernel", "initrd"] });
    expect([0, 1, 2, 3].map((i) => pickFile(f, i, 0.5))).toEqual(["cfg", "kernel", "initrd", "cfg"]);
  });
});
