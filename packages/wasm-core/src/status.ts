// Status numbers returned by the WebAssembly core (assembly/status.ts) and
// their messages. errors.ts turns them into typed errors.

export const Status = {
  OK: 0,
  TOO_SHORT: 1,
  BAD_OPCODE: 2,
  FILENAME_UNTERMINATED: 3,
  FILENAME_EMPTY: 4,
  MODE_UNTERMINATED: 5,
  MODE_UNKNOWN: 6,
  OPTION_UNTERMINATED: 7,
  OPTION_NO_VALUE: 8,
  OPTION_EMPTY_NAME: 9,
  TOO_MANY_OPTIONS: 10,
  MESSAGE_UNTERMINATED: 11,
  TOO_LONG: 12,
  BAD_ERROR_CODE: 13,
  ARGUMENT: 20,
  NO_SLOT: 30,
  BAD_SLOT: 31,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const messages: Record<number, string> = {
  [Status.TOO_SHORT]: "packet truncated",
  [Status.BAD_OPCODE]: "unknown opcode",
  [Status.FILENAME_UNTERMINATED]: "file name not terminated",
  [Status.FILENAME_EMPTY]: "empty file name",
  [Status.MODE_UNTERMINATED]: "mode not terminated",
  [Status.MODE_UNKNOWN]: "unknown transfer mode",
  [Status.OPTION_UNTERMINATED]: "option not terminated",
  [Status.OPTION_NO_VALUE]: "option without a value",
  [Status.OPTION_EMPTY_NAME]: "empty option name",
  [Status.TOO_MANY_OPTIONS]: "too many options",
  [Status.MESSAGE_UNTERMINATED]: "error message not terminated",
  [Status.TOO_LONG]: "packet too long",
  [Status.BAD_ERROR_CODE]: "error code out of range",
  [Status.ARGUMENT]: "argument out of range",
  [Status.NO_SLOT]: "session table full",
  [Status.BAD_SLOT]: "no such session slot",
};

export function statusMessage(status: number): string {
  return messages[status] ?? `status ${status}`;
}
