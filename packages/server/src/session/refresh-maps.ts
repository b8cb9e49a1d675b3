// After the warm-up: the server's own objects brought up to date with what
// the warm-up taught V8 about their shapes.
//
// V8 gives objects of one class a shared hidden class (map) that records how
// each field is stored. When a field of one instance first gets a value of a
// wider kind (an integer field given a file size from fs.Stats, which is a
// double, or a time from Date.now()), the map is replaced and every other
// instance made before keeps the old, deprecated one until it is next read
// through an inline cache. The warm-up's private server does this to the
// classes it shares with the real server, whose long-lived objects (its file
// cache, scheduler, socket pool, flow tracker, telemetry) were made before
// the warm-up began. The code the warm-up had compiled then met the real
// objects' deprecated maps at the first real requests ("wrong map" in
// --trace-deopt: the file cache, at its first hit) and went back to the
// interpreter, to be compiled again while the first machines booted.
//
// Reading a property of an object through an inline cache moves it to its
// current map: refreshMaps does that for every object reachable from the
// server, once, after the warm-up and before the port opens.

/** Objects visited at most (a server reaches a few hundred at start). */
const MAX_OBJECTS = 20_000;

/**
 * Reads one data property of each object reachable from `root` through own
 * enumerable data properties and the entries of Maps and Sets (never a
 * getter, never into functions, buffers or typed arrays), so that V8 moves
 * each to its current map. Bounded by `max` objects; returns how many it
 * visited.
 */
export function refreshMaps(root: object, max = MAX_OBJECTS): number {
  const seen = new Set<object>();
  const todo: object[] = [root];
  const follow = (v: unknown): void => {
    if (v !== null && typeof v === "object" && !seen.has(v)) todo.push(v);
  };
  while (todo.length > 0 && seen.size < max) {
    const o = todo.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer || o instanceof WeakMap || o instanceof WeakSet || o instanceof Promise) continue;
    if (o instanceof Map) {
      for (const [k, v] of o) {
        follow(k);
        follow(v);
      }
      continue;
    }
    if (o instanceof Set) {
      for (const v of o) follow(v);
      continue;
    }
    const rec = o as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      // A getter could do anything: only data properties are read.
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (d === undefined || !("value" in d)) continue;
      follow(rec[k]); // the keyed load through an inline cache is what migrates the object
    }
  }
  return seen.size;
}
