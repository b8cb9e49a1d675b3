import { defineConfig } from "vitest/config";

// The load tests run real sessions against servers on loopback: on a busy
// two-core machine one can take longer than vitest's 5 s default. The tests
// bound their own loops; this is only the runner's safety net.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
