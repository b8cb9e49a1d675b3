// Renamed scenario keys and flags: the old names still work for one release,
// each with one line naming the new one; bad values are configuration errors
// naming their flag.

import { describe, expect, it } from "vitest";
import { parseThreshold, resolveScenario, TftpConfigError } from "../src/index.js";
import { parseAddressPool } from "../src/address-pool.js";
import { scenarioFromArgs } from "../src/cli.js";
import { parseDurationS, parseStages } from "../src/schedule.js";

describe("renamed scenario keys and flags (one release of grace)", () => {
  it("an old scenario key is read as its new one, with one line naming the new key", () => {
    const warnings: string[] = [];
    const s = resolveScenario({ target: "h:69", files: ["a"], timeout: 0.5, timeoutOption: 3 } as never, undefined, warnings);
    expect(s).toMatchObject({ timeoutSeconds: 0.5, timeoutOptionSeconds: 3 });
    expect(warnings).toEqual(['"timeout" is deprecated: use "timeoutSeconds"', '"timeoutOption" is deprecated: use "timeoutOptionSeconds"']);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], timeout: 1, timeoutSeconds: 2 } as never)).toThrow(TftpConfigError);
    const d: string[] = [];
    expect(resolveScenario({ target: "h:69", flow: ["a"], clients: 2, duration: 3, rampUp: 1, think: 0.5, timeLimit: 9 } as never, undefined, d)).toMatchObject({
      durationSeconds: 3, rampUpSeconds: 1, thinkMs: 500, timeLimitSeconds: 9,
    });
    expect(d).toEqual([
      '"duration" is deprecated: use "durationSeconds"', '"rampUp" is deprecated: use "rampUpSeconds"',
      '"think" is deprecated: use "thinkSeconds"', '"timeLimit" is deprecated: use "timeLimitSeconds"',
    ]);
    const st: string[] = [];
    const open = resolveScenario({ target: "h:69", files: ["a"], stages: [{ durationS: 2, target: 10 }, { durationS: 3, target: 0 }] } as never, undefined, st);
    expect(open.stages).toEqual([{ durationSeconds: 2, target: 10 }, { durationSeconds: 3, target: 0 }]);
    expect(st).toEqual(['"stages[].durationS" is deprecated: use "stages[].durationSeconds"']);
  });

  it("an old flag is read as its new one, with one notice naming the new flag", () => {
    const r = scenarioFromArgs(["--target", "h:69", "--file", "a", "--timeout", "2", "--timeout-option", "4"]);
    expect(r.input).toMatchObject({ timeoutSeconds: 2, timeoutOptionSeconds: 4 });
    expect(r.notices).toEqual(["--timeout is deprecated: use --timeout-seconds", "--timeout-option is deprecated: use --timeout-option-seconds"]);
    // Flags of durations take a unit in their value and keep their names.
    const d = scenarioFromArgs(["--target", "h:69", "--flow", "a", "--clients", "2", "--duration", "2s", "--think", "100ms", "--ramp-up", "1", "--time-limit", "1m"]);
    expect(d.input).toMatchObject({ durationSeconds: 2, thinkSeconds: 0.1, rampUpSeconds: 1, timeLimitSeconds: 60 });
    expect(d.notices).toEqual([]);
  });
});

describe("configuration errors", () => {
  it("bad thresholds, stages, durations and sources are configuration errors naming their flag", () => {
    const caught = (f: () => unknown): TftpConfigError => {
      try {
        f();
      } catch (err) {
        return err as TftpConfigError;
      }
      throw new Error("did not throw");
    };
    for (const [f, key] of [
      [() => parseThreshold("p99 is small"), "--threshold"],
      [() => parseStages("30s"), "--stages"],
      [() => parseDurationS("soon", "--duration"), "--duration"],
      [() => parseAddressPool("127.0.0.0/40"), "--source"],
    ] as const) {
      const err = caught(f);
      expect(err).toBeInstanceOf(TftpConfigError);
      expect(err.reason).toBe("TFTP_ERR_CONFIG_VALUE");
      expect(err.issues[0].key).toBe(key);
    }
  });
});
