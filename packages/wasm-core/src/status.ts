// Status numbers returned by the WebAssembly core (assembly/status.ts) and
// their messages. errors.ts turns them into typed errors.

/** Each status once: its number (as assembly/status.ts returns it) and its message. */
const STATUSES = {
  OK: [0, "ok"],
  TOO_SHORT: [1, "packet truncated"],
  BAD_OPCODE: [2, "unknown opcode"],
  FILENAME_UNTERMINATED: [3, "file name not terminated"],
  FILENAME_EMPTY: [4, "empty file name"],
  MODE_UNTERMINATED: [5, "mode not terminated"],
  MODE_UNKNOWN: [6, "unknown transfer mode"],
  OPTION_UNTERMINATED: [7, "option not terminated"],
  OPTION_NO_VALUE: [8, "option without a value"],
  OPTION_EMPTY_NAME: [9, "empty option name"],
  TOO_MANY_OPTIONS: [10, "too many options"],
  MESSAGE_UNTERMINATED: [11, "error message not terminated"],
  TOO_LONG: [12, "packet too long"],
  BAD_ERROR_CODE: [13, "error code out of range"],
  ARGUMENT: [20, "argument out of range"],
  NO_SLOT: [30, "session table full"],
  BAD_SLOT: [31, "no such session slot"],
} as const;

type StatusTable = typeof STATUSES;
export const Status = Object.freeze(
  Object.fromEntries(Object.entries(STATUSES).map(([name, [n]]) => [name, n])),
) as { readonly [K in keyof StatusTable]: StatusTable[K][0] };
export type Status = (typeof Status)[keyof typeof Status];

const messages: Record<number, string> = Object.fromEntries(
  Object.values(STATUSES).filter(([n]) => n !== 0).map(([n, message]) => [n, message]),
);

export function statusMessage(status: number): string {
  return messages[status] ?? `status ${status}`;
}
