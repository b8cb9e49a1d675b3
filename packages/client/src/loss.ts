// Injected packet loss for load tests: a share of DATA and of ACK packets is
// dropped, decided by seeded PRNGs so that a run can be repeated exactly.
// DATA and ACK draws come from two independent streams, so the ACK decisions
// do not shift when the DATA rate changes. A draw is made only when its rate
// is above 0. A received packet is dropped before the client looks at it, so
// a dropped DATA or OACK never tells the client the server's transfer ID.

/** mulberry32: a small, fast 32-bit PRNG; returns [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A well-mixed 32-bit seed from a base seed and a stream number (e.g. a session index). */
export function mixSeed(seed: number, stream: number): number {
  let h = (seed >>> 0) ^ Math.imul(stream >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface LossOptions {
  /** Share of DATA packets dropped (received ones on a get, with the OACK that answers it; sent ones on a put), 0..1. */
  data?: number;
  /** Share of ACK packets dropped (sent ones on a get; received ones on a put, with the OACK that answers it), 0..1. */
  ack?: number;
  /** PRNG seed (default 1). */
  seed?: number;
}

export class LossInjector {
  readonly dataRate: number;
  readonly ackRate: number;
  readonly seed: number;
  /** Packets dropped so far. */
  dataDropped = 0;
  acksDropped = 0;
  private readonly dataRng: () => number;
  private readonly ackRng: () => number;

  constructor(o: LossOptions = {}) {
    const rate = (name: string, v: number | undefined): number => {
      const r = v ?? 0;
      if (typeof r !== "number" || !(r >= 0 && r <= 1)) throw new RangeError(`loss.${name} must be from 0 to 1 (got ${r})`);
      return r;
    };
    this.dataRate = rate("data", o.data);
    this.ackRate = rate("ack", o.ack);
    this.seed = (o.seed ?? 1) >>> 0;
    this.dataRng = prng(mixSeed(this.seed, 0x44415441));
    this.ackRng = prng(mixSeed(this.seed, 0x41434b21));
  }

  /** True when this DATA packet is to be dropped. */
  dropData(): boolean {
    if (this.dataRate === 0 || this.dataRng() >= this.dataRate) return false;
    this.dataDropped++;
    return true;
  }

  /** True when this ACK packet is to be dropped. */
  dropAck(): boolean {
    if (this.ackRate === 0 || this.ackRng() >= this.ackRate) return false;
    this.acksDropped++;
    return true;
  }
}

export function toLossInjector(loss: LossOptions | LossInjector | undefined): LossInjector | undefined {
  if (loss === undefined) return undefined;
  if (loss instanceof LossInjector) return loss;
  if ((loss.data ?? 0) === 0 && (loss.ack ?? 0) === 0) return undefined;
  return new LossInjector(loss);
}
