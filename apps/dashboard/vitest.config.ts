import { defineConfig } from "vitest/config";

// The browser test starts tftpkit servers, the fleet command and Chromium:
// one file at a time, with room for their start-up on a loaded machine.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
