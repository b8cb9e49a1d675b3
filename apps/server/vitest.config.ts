import { defineConfig } from "vitest/config";

// The tests start `tftpkit serve` (and Prometheus) as child processes: one
// file at a time, with room for their start-up.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 30_000,
    fileParallelism: false,
  },
});
