// A Map for values that live a short while (running sessions, their live
// entries) kept by an owner that lives long (the server).
//
// Why not a plain Map: once a Map's hash table is in V8's old generation, a
// rehash (a Map that keeps gaining and losing entries rehashes every few
// dozen insertions) leaves the old table pointing at the values it held
// until the next major collection, and minor collections take such pointers
// as roots: each value that sat in the Map at a rehash, with all it
// references, is copied and promoted although nothing uses it any more.
// Here the Map holds only the index of the value's cell in an array that is
// written in place, and a deleted value's cell is emptied at once: an old
// table keeps a number, not the value.

export class ShortLivedMap<K, V> {
  private readonly index = new Map<K, number>();
  /**
   * Made in the kind of array it ends as (holding objects): a new owner's
   * first value would otherwise change the array's kind, and code compiled
   * for another owner's array (the warm-up server's) would not fit it.
   */
  private readonly cells: Array<V | undefined> = [undefined].slice(1);
  private readonly free: number[] = [];

  get size(): number {
    return this.index.size;
  }

  get(key: K): V | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.cells[i];
  }

  has(key: K): boolean {
    return this.index.has(key);
  }

  /** Sets the value; a new key goes last in the iteration order (as with Map). */
  set(key: K, value: V): this {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.free.pop() ?? this.cells.length;
      this.index.set(key, i);
    }
    this.cells[i] = value;
    return this;
  }

  delete(key: K): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    this.index.delete(key);
    this.cells[i] = undefined;
    this.free.push(i);
    return true;
  }

  /** Values in insertion order. */
  *values(): IterableIterator<V> {
    for (const i of this.index.values()) yield this.cells[i]!;
  }

  /** [key, value] in insertion order; as with a Map, an entry deleted and set again while iterating is visited again. */
  *[Symbol.iterator](): IterableIterator<[K, V]> {
    for (const [k, i] of this.index) yield [k, this.cells[i]!];
  }
}
