// The page's formatting helpers that guard what becomes a link or a class.

import { describe, expect, it } from "vitest";
import { bytes, duration, flowState, kindLabel, machineHref, outcomeClass, quantile, traceLink } from "../web/src/format.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("traceLink", () => {
  it("fills {traceId} into an http(s) template", () => {
    expect(traceLink("http://jaeger:16686/trace/{traceId}", TRACE)).toBe(`http://jaeger:16686/trace/${TRACE}`);
    expect(traceLink("https://grafana.example/explore?traceId={traceId}&x={traceId}", TRACE)).toBe(`https://grafana.example/explore?traceId=${TRACE}&x=${TRACE}`);
  });

  it("gives no link without a template, for a malformed trace id, or for a template that is not absolute http(s)", () => {
    expect(traceLink(null, TRACE)).toBeNull();
    expect(traceLink("http://jaeger/trace/{traceId}", undefined)).toBeNull();
    expect(traceLink("http://jaeger/trace/{traceId}", `${TRACE}"><b>`)).toBeNull();
    expect(traceLink("http://jaeger/trace/{traceId}", TRACE.toUpperCase())).toBeNull();
    expect(traceLink("javascript:alert('{traceId}')", TRACE)).toBeNull();
    expect(traceLink("/trace/{traceId}", TRACE)).toBeNull();
  });
});

describe("outcomeClass, machineHref and units", () => {
  it("draws ok, probe and running apart from every failure", () => {
    expect(["ok", "probe", "running", "not-found", "timeout", "access-denied", "aborted", "something-new"].map(outcomeClass)).toEqual([
      "ok",
      "probe",
      "running",
      "fail",
      "fail",
      "fail",
      "fail",
      "fail",
    ]);
  });

  it("draws a miss inside a config search apart from failures and from successes", () => {
    expect(outcomeClass("search-miss")).toBe("miss");
    expect(outcomeClass("repeat")).toBe("miss"); // a late copy of a request already served: not a failure
    expect(outcomeClass("not-found")).toBe("fail");
  });

  it("labels HTTP steps apart from TFTP ones", () => {
    expect(["read", "write", "http"].map(kindLabel)).toEqual(["TFTP", "TFTP write", "HTTP"]);
  });

  it("names a flow's state: booted before failed before open or ended", () => {
    expect(flowState({ endedAt: null })).toBe("open");
    expect(flowState({ endedAt: 5 })).toBe("ended");
    expect(flowState({ endedAt: 5, failed: true })).toBe("failed");
    expect(flowState({ endedAt: null, failed: true })).toBe("failed");
    expect(flowState({ endedAt: 5, bootedAt: 5, failed: false })).toBe("booted");
  });

  it("quantiles by nearest rank", () => {
    expect(quantile([], 0.5)).toBeNaN();
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(quantile([1, 2, 3], 1)).toBe(3);
  });

  it("encodes a client and a server name into the machine link", () => {
    expect(machineHref("fe80::1%eth0", "rack a/1")).toBe("#/machine/fe80%3A%3A1%25eth0?server=rack%20a%2F1");
    expect(machineHref("10.0.0.7")).toBe("#/machine/10.0.0.7");
  });

  it("prints bytes and durations", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(0.5)).toBe("0.5 B");
    expect(bytes(42.4)).toBe("42 B");
    expect(bytes(8 << 20)).toBe("8.00 MiB");
    expect(bytes(null)).toBe("–");
    expect(duration(0.5)).toBe("0.50 ms");
    expect(duration(1500)).toBe("1.50 s");
    expect(duration(125_000)).toBe("2 min 5 s");
  });
});
