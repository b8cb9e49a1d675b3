// Shared by the load generator's tests: fixture bytes and HDR-aware checks.

import { expect } from "vitest";

export { bytes } from "@tftpkit/test-support";

/** Nearest-rank percentile of sorted values (the exact figure HDR approximates to 3 digits). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Within HdrHistogram's resolution: 3 significant digits (and the 1 us floor). */
export function closeTo(actual: number, exact: number): void {
  expect(Math.abs(actual - exact)).toBeLessThanOrEqual(Math.max(exact * 1e-3, 0.001) + 1e-9);
}
