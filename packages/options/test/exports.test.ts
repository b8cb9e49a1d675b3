// The package's public surface, pinned: every entry point of its "exports"
// map, the names its module exports and the type-only names of its
// declarations. A change here is a change of the API: update the snapshot
// on purpose (`npx vitest run test/exports.test.ts -u`) and say so in the
// CHANGELOG.

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { entryPoints, exportSurface } from "../../../scripts/export-surface.mjs";

const dir = fileURLToPath(new URL("..", import.meta.url));

describe("exports", () => {
  // Reading the declarations builds a TypeScript program: seconds on a busy machine.
  it.each(entryPoints(dir))("%s exports exactly the pinned names", { timeout: 60_000 }, async (entry) => {
    expect(await exportSurface(dir, entry)).toMatchSnapshot();
  });
});
