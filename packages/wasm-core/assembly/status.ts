// Status numbers returned across the boundary. The core never throws: every
// outcome is one of these, and the glue maps them to typed errors in one place.
// Keep in sync with src/status.ts (a test checks both agree).

export const OK: i32 = 0;
// decode
export const E_TOO_SHORT: i32 = 1; // fewer bytes than the opcode needs
export const E_BAD_OPCODE: i32 = 2; // opcode not 1..6
export const E_FILENAME_UNTERMINATED: i32 = 3;
export const E_FILENAME_EMPTY: i32 = 4;
export const E_MODE_UNTERMINATED: i32 = 5;
export const E_MODE_UNKNOWN: i32 = 6;
export const E_OPTION_UNTERMINATED: i32 = 7; // option name or value without NUL
export const E_OPTION_NO_VALUE: i32 = 8; // odd option list
export const E_OPTION_EMPTY_NAME: i32 = 9;
export const E_TOO_MANY_OPTIONS: i32 = 10;
export const E_MESSAGE_UNTERMINATED: i32 = 11; // ERROR message without NUL
export const E_TOO_LONG: i32 = 12; // larger than PACKET_MAX
export const E_BAD_ERROR_CODE: i32 = 13; // ERROR code outside 0..8 (still decoded)
// encode
export const E_ARGUMENT: i32 = 20; // an argument out of range
// scheduler
export const E_NO_SLOT: i32 = 30; // slot table full
export const E_BAD_SLOT: i32 = 31; // slot not open or of the other kind
