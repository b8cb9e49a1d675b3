// @tftpkit/client/internal: what the load generator needs beyond the public
// surface (the transfer option table its flags are generated from, the
// seeded random numbers its loss and arrivals share). No compatibility
// promise: these change with the apps.

export {
  SHARED_TRANSFER_KEYS, TRANSFER_OPTIONS, transferOptionTable,
  type SharedTransferOptions,
} from "./options.js";
export { prng, mixSeed } from "./loss.js";
