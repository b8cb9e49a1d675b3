import { defineConfig } from "vitest/config";

// Real client processes talk UDP over loopback: give transfers room, run one test
// file at a time (each starts its own servers), and bound in-file concurrency.
export default defineConfig({
  test: {
    include: ["interop/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    fileParallelism: false,
    maxConcurrency: 8,
    pool: "forks",
    reporters: process.env.CI ? ["verbose"] : ["default"],
  },
});
