/**
 * The one seeded PRNG of the test helpers (synthetic traffic, baselines fixtures, the labelled
 * evaluation corpus): mulberry32, 32-bit state, fast and good enough for traffic shapes. Every
 * generator takes a seed, so a corpus is reproducible byte for byte; `Rng.fork(label)` derives an
 * independent stream per component, so adding one attack does not shift every other one.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, for deriving seeds from labels. */
export function hashSeed(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A seeded random source with the draws traffic models need. */
export class Rng {
  readonly seed: number;
  private readonly next: () => number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.next = mulberry32(this.seed);
  }

  /** An independent stream for a named component (same parent seed + label → same stream). */
  fork(label: string): Rng {
    return new Rng(hashSeed(label, this.seed ^ 0x9e3779b9));
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** An item drawn with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let u = this.next() * total;
    for (const [item, w] of items) {
      u -= w;
      if (u < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  /** Zipf-like rank in [0, n): rank 0 most likely; larger `s` is more skewed. */
  zipf(n: number, s = 1.1): number {
    return Math.min(n - 1, Math.floor(n * this.next() ** (1 + s * 2)));
  }

  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Log-normal with the given median and sigma (heavy-tailed sizes, per-actor activity). */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Poisson sample (Knuth for small means, normal approximation above 50). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const l = Math.exp(-mean);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.next();
    } while (p > l);
    return k - 1;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }

  /** `count` distinct items (all of them when there are fewer). */
  sample<T>(items: readonly T[], count: number): T[] {
    return this.shuffle([...items]).slice(0, count);
  }

  /** Lower-case hex of `bytes` random bytes. */
  hex(bytes: number): string {
    let s = '';
    let i = 0;
    for (; i + 4 <= bytes; i += 4)
      s += Math.floor(this.next() * 4294967296)
        .toString(16)
        .padStart(8, '0');
    for (; i < bytes; i++)
      s += Math.floor(this.next() * 256)
        .toString(16)
        .padStart(2, '0');
    return s;
  }

  /** A random (version 4) UUID. */
  uuid(): string {
    const h = this.hex(16);
    const variant = ((parseInt(h[16] as string, 16) & 3) | 8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20)}`;
  }

  /** `length` base64url characters (API keys, token signatures). */
  token(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += B64URL[Math.floor(this.next() * 64)];
    return s;
  }
}
