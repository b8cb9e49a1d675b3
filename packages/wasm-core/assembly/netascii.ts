// netascii (RFC 764 via RFC 1350): on the wire, LF is CR LF and a bare CR is
// CR NUL. Encoding has no state across chunks (each input byte maps to one or
// two output bytes; the glue splits the output into blocks). Decoding carries
// one pending CR across chunk and block boundaries.

import { IN, OUT, RES_PENDING_CR, resSet } from "./layout";

const CR: u8 = 13;
const LF: u8 = 10;

/** Encodes `len` bytes at IN into OUT; returns the output length (<= 2 * len). */
export function netasciiEncode(len: i32): i32 {
  let o = OUT;
  const end = IN + <usize>len;
  for (let p = IN; p < end; p++) {
    const c = load<u8>(p);
    if (c == LF) {
      store<u8>(o, CR);
      store<u8>(o + 1, LF);
      o += 2;
    } else if (c == CR) {
      store<u8>(o, CR);
      store<u8>(o + 1, 0);
      o += 2;
    } else {
      store<u8>(o++, c);
    }
  }
  return <i32>(o - OUT);
}

/**
 * Decodes `len` wire bytes at IN into OUT. pendingCR: the previous chunk
 * ended in CR. Returns the output length; RES_PENDING_CR tells whether this
 * chunk ends in a CR whose meaning the next byte decides. CR followed by
 * anything but NUL or LF is kept as it is (lenient, like most clients).
 */
export function netasciiDecode(len: i32, pendingCR: i32): i32 {
  let o = OUT;
  let cr = pendingCR != 0;
  const end = IN + <usize>len;
  for (let p = IN; p < end; p++) {
    const c = load<u8>(p);
    if (cr) {
      cr = false;
      if (c == LF) { store<u8>(o++, LF); continue; }
      if (c == 0) { store<u8>(o++, CR); continue; }
      store<u8>(o++, CR);
    }
    if (c == CR) cr = true;
    else store<u8>(o++, c);
  }
  resSet(RES_PENDING_CR, cr ? 1 : 0);
  return <i32>(o - OUT);
}
