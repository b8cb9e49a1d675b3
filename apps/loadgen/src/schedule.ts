// The open model's arrival schedule: sessions (or machines running a flow)
// start at times fixed in advance from the rate, whatever the server does, so
// a slow server cannot slow the load down and hide its queueing (no
// coordinated omission). The rate is piecewise linear: `--rate R` alone is
// constant; `--stages 30s:100,60s:500` ramps from the start rate (--rate, or
// 0) to 100/s over 30 s, then to 500/s over 60 s.
//
// Arrival k happens when the expected count, the integral of the rate from
// the start, reaches u_k: u_k = k for constant spacing, or the sum of k+1
// exponential(1) draws for `--arrival poisson` (a Poisson process of that
// rate, by the time-rescaling theorem), seeded so that a run repeats.

import { mixSeed, prng } from "@tftpkit/client/internal";
import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";

export interface Stage {
  /** Seconds the stage lasts. */
  durationSeconds: number;
  /** Rate (sessions per second) reached at the end of the stage. */
  target: number;
}

/** A bad duration or stage: a TftpConfigError (reason TFTP_ERR_CONFIG_VALUE) naming the flag. */
const scheduleError = (key: string, message: string): TftpConfigError => new TftpConfigError({ code: ConfigErrorCode.VALUE, key, message });

/** "30s", "2m", "500ms", "1h", or a bare number of seconds. */
export function parseDurationS(text: string, what = "duration"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw scheduleError(what, `${what}: ${JSON.stringify(text)} is not a duration (use 500ms, 30s, 2m, 1h)`);
  const v = Number(m[1]);
  const unit = m[2] ?? "s";
  return unit === "ms" ? v / 1000 : unit === "m" ? v * 60 : unit === "h" ? v * 3600 : v;
}

/** "30s:100,60s:500": each stage ramps the rate linearly to its target over its duration. */
export function parseStages(text: string): Stage[] {
  const stages = text.split(",").map((part) => {
    const m = /^\s*([^:]+):\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) throw scheduleError("--stages", `--stages: ${JSON.stringify(part)} is not DURATION:RATE (e.g. 30s:100)`);
    const durationSeconds = parseDurationS(m[1], "--stages");
    if (!(durationSeconds > 0)) throw scheduleError("--stages", `--stages: a stage lasts more than 0 s (got ${JSON.stringify(part)})`);
    return { durationSeconds, target: Number(m[2]) };
  });
  if (stages.length === 0) throw scheduleError("--stages", "--stages needs at least one DURATION:RATE");
  return stages;
}

interface Segment {
  t0: number; // s from the start
  len: number; // s
  r0: number; // rate at t0
  r1: number; // rate at t0 + len
  cum0: number; // expected arrivals before t0
  area: number; // expected arrivals within
}

/** A piecewise linear rate from the start to `endS`; after the stages it stays at the last rate. */
export class RatePlan {
  private readonly segs: Segment[] = [];
  readonly endS: number;

  constructor(startRate: number, stages: Stage[], endS: number) {
    let t = 0;
    let r = startRate;
    let cum = 0;
    for (const st of stages) {
      const area = ((r + st.target) / 2) * st.durationSeconds;
      this.segs.push({ t0: t, len: st.durationSeconds, r0: r, r1: st.target, cum0: cum, area });
      t += st.durationSeconds;
      cum += area;
      r = st.target;
    }
    this.endS = Math.min(endS, stages.length > 0 ? t : Infinity);
    if (stages.length === 0) this.segs.push({ t0: 0, len: Infinity, r0: r, r1: r, cum0: 0, area: Infinity });
  }

  /** Rate at `t` seconds. */
  rateAt(t: number): number {
    for (const s of this.segs) if (t < s.t0 + s.len) return s.r0 + ((s.r1 - s.r0) * (t - s.t0)) / s.len;
    const last = this.segs[this.segs.length - 1];
    return last ? last.r1 : 0;
  }

  /** Seconds from the start at which the expected count reaches `u`; Infinity when not before the end. */
  timeOf(u: number): number {
    for (const s of this.segs) {
      if (u > s.cum0 + s.area) continue;
      const x = u - s.cum0;
      // r0*tau + (r1 - r0)/(2 len) * tau^2 = x, the root in [0, len]; this form holds for a falling rate too.
      const a = s.len === Infinity ? 0 : (s.r1 - s.r0) / (2 * s.len);
      const d = s.r0 * s.r0 + 4 * a * x;
      const denom = s.r0 + Math.sqrt(Math.max(0, d));
      const tau = denom > 0 ? (2 * x) / denom : x === 0 ? 0 : Infinity;
      const t = s.t0 + tau;
      return t < this.endS ? t : Infinity;
    }
    return Infinity;
  }

  /** The highest rate anywhere in the plan. */
  peak(): number {
    return Math.max(0, ...this.segs.map((s) => Math.max(s.r0, s.r1)));
  }
}

const ARRIVAL_STREAM = 0x41525256;

/** Arrival times in seconds, in order: constant spacing or a seeded Poisson process. */
export class Arrivals {
  private k = -1;
  private u = 0;
  private readonly draw: (() => number) | null;

  constructor(
    private readonly plan: RatePlan,
    poisson: boolean,
    seed: number,
  ) {
    this.draw = poisson ? prng(mixSeed(seed, ARRIVAL_STREAM)) : null;
  }

  /** Index of the arrival `next()` returned last. */
  get index(): number {
    return this.k;
  }

  /** The next arrival's time in seconds from the start (Infinity: no more). */
  next(): number {
    this.k++;
    this.u = this.draw ? this.u - Math.log(1 - this.draw()) : this.k;
    return this.plan.timeOf(this.u);
  }
}
