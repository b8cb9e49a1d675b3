// The V8 flags of every tftpkit process: bin/tftpkit.js sets them in the
// process it starts (before the CLI's code loads), and cluster workers are
// started with them (cluster.ts). Kept in a module of its own so that the
// launcher reads them without loading anything else.

/**
 * What a server that has been idle needs to be as fast as before: V8 keeps
 * the code it compiled.
 *
 * --no-memory-reducer: after some seconds without allocation V8's memory
 * reducer runs full collections that shrink the heap, and with them throw
 * away the bytecode and the optimized code of functions not run since; a
 * server idle for half a minute or more then met its next boot storm as cold
 * as a fresh one (measured: about 80 functions of the session path compiled
 * again, 2x the CPU per session for the first thousands of sessions). The
 * heap still shrinks and grows with the ordinary collections.
 *
 * --no-flush-bytecode: the same for the ordinary full collections of a long
 * quiet time (bytecode not run for 5 of them is thrown away otherwise).
 *
 * They belong on node's command line: V8 sets the memory reducer up with the
 * heap, and v8.setFlagsFromString() later does not stop it (measured: a
 * primary given them that way still ran three "Mark-Compact (reduce)"
 * collections some seconds after a burst, and its CPU per request after
 * 90 s idle was 32-38 us against 16-19 us warm; given on the command line,
 * no such collection, and 20-31 us in five runs of six). bin/tftpkit.js
 * names them on its first line (env -S).
 */
export const V8_FLAGS: readonly string[] = ["--no-memory-reducer", "--no-flush-bytecode"];
