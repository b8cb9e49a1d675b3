import { defineConfig } from "vitest/config";

// Real client processes talk UDP over loopback: give transfers room, run one test
// file at a time (each starts its own servers), and bound in-file concurrency.
// deploy/ packs and installs the npm packages, checks the systemd unit, the
// Kubernetes manifests and (with podman) the container image. docs/ checks
// the documentation: generated pages current, relative links resolving.
// bench/ renders docs/performance.md from a fixture bench result.
export default defineConfig({
  test: {
    include: ["interop/**/*.test.ts", "deploy/**/*.test.ts", "docs/**/*.test.ts", "bench/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    fileParallelism: false,
    maxConcurrency: 8,
    pool: "forks",
    reporters: process.env.CI ? ["verbose"] : ["default"],
  },
});
