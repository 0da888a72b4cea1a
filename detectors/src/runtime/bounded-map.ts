/**
 * A Map with a size cap that evicts the least recently touched key. Attackers control
 * cardinality (IPs, keys), so every per-key detector state lives in one of these.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  private readonly cap: number;
  private readonly onEvict: () => void;

  constructor(cap: number, onEvict: () => void) {
    this.cap = cap;
    this.onEvict = onEvict;
  }

  get size(): number {
    return this.map.size;
  }

  /** Returns the value and marks it most recently used. */
  touch(key: K, create: () => V): V {
    let value = this.map.get(key);
    if (value === undefined) {
      value = create();
      if (this.map.size >= this.cap) {
        const oldest = this.map.keys().next();
        if (!oldest.done) {
          this.map.delete(oldest.value);
          this.onEvict();
        }
      }
    } else {
      this.map.delete(key);
    }
    this.map.set(key, value);
    return value;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  delete(key: K): void {
    this.map.delete(key);
  }
}
