// A byte-bounded LRU index. Map keeps insertion order: a hit moves the key to
// the end, eviction takes from the front. Bytes of downloads still running are
// reserved ahead (from Content-Length) so that running and stored bytes
// together stay within the bound.

export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  /** Bytes of the stored entries. */
  bytes = 0;
  /** Bytes promised to downloads still running. */
  reserved = 0;
  evictions = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onEvict: (key: string, value: V) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The entry, marked most recently used. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Reserves `n` bytes, evicting least recently used entries; false when even an empty index has no room. */
  reserve(n: number): boolean {
    if (n + this.reserved > this.maxBytes) return false;
    this.evictUntil(this.maxBytes - this.reserved - n);
    this.reserved += n;
    return true;
  }

  unreserve(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
  }

  /** Stores an entry (most recently used), replacing one under the same key (onEvict), evicting others to fit. */
  set(key: string, value: V, bytes: number): void {
    const old = this.delete(key);
    if (old !== undefined && old !== value) this.onEvict(key, old);
    this.evictUntil(this.maxBytes - this.reserved - bytes);
    this.map.set(key, { value, bytes });
    this.bytes += bytes;
  }

  /** Removes an entry without calling onEvict. */
  delete(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.bytes -= e.bytes;
    return e.value;
  }

  /** Removes one entry, calling onEvict. */
  evict(key: string): void {
    const v = this.delete(key);
    if (v !== undefined) this.onEvict(key, v);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  values(): V[] {
    return [...this.map.values()].map((e) => e.value);
  }

  private evictUntil(target: number): void {
    for (const [key, e] of this.map) {
      if (this.bytes <= target) return;
      this.map.delete(key);
      this.bytes -= e.bytes;
      this.evictions++;
      this.onEvict(key, e.value);
    }
  }
}
