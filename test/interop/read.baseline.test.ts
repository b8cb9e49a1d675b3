// Sanity baseline: the same RRQ matrix against Debian's tftpd-hpa (in.tftpd).
// If a client passes here and fails in read.test.ts, the difference is tftpkit's.
// Skipped when in.tftpd is not installed or we are not root (it drops to "nobody").
import { describe } from "vitest";
import { defineReadMatrix } from "./read-matrix.js";
import { inTftpdAvailable, inTftpdTarget } from "./targets.js";

describe.skipIf(!inTftpdAvailable())("read (RRQ) baseline against in.tftpd", () => {
  defineReadMatrix(inTftpdTarget());
});
