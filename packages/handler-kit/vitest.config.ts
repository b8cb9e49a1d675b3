import { defineConfig } from "vitest/config";

// Loopback transfers of a few MiB: generous bounds for a loaded CI machine (no timing assertions).
export default defineConfig({
  test: { testTimeout: 20_000, hookTimeout: 20_000 },
});
