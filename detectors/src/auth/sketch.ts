/**
 * Small, bounded, deterministic sketches for attacker-controlled cardinalities (distinct
 * accounts, keys, paths, networks). An attacker picks how many distinct values it sends, so no
 * detector state may hold them in an unbounded set: these keep a fixed number of bytes whatever
 * arrives, and hash with a fixed seed so a replay gives the same estimates (docs/detectors/auth.md).
 */

/** 32-bit FNV-1a of a string, finished with the murmur3 avalanche so every bit depends on every byte. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A HyperLogLog with `2^bits` one-byte registers (bits 4–10: 16 B–1 KiB), linear counting below
 * 2.5·m. Standard error ≈ 1.04/√m: m=64 → 13 %, m=128 → 9 %, m=256 → 6.5 %. Small counts are
 * near exact (linear counting), which is where thresholds sit.
 */
export class Hll {
  readonly registers: Uint8Array;
  private readonly bits: number;

  constructor(bits: number) {
    if (!(bits >= 4 && bits <= 10)) throw new RangeError(`Hll bits must be 4–10, got ${bits}`);
    this.bits = bits;
    this.registers = new Uint8Array(1 << bits);
  }

  /** Adds a 32-bit hash (see `hash32`). Returns true when a register changed (the value was likely new). */
  add(h: number): boolean {
    const index = h >>> (32 - this.bits);
    const rest = (h << this.bits) >>> 0;
    const rank = Math.min(rest === 0 ? 32 - this.bits + 1 : Math.clz32(rest) + 1, 32 - this.bits + 1);
    if (rank > this.registers[index]!) {
      this.registers[index] = rank;
      return true;
    }
    return false;
  }

  merge(other: Hll): void {
    const r = this.registers;
    const o = other.registers;
    for (let i = 0; i < r.length; i++) if (o[i]! > r[i]!) r[i] = o[i]!;
  }

  clear(): void {
    this.registers.fill(0);
  }

  estimate(): number {
    return hllEstimate(this.registers);
  }

  get bytes(): number {
    return this.registers.length + 16;
  }
}

/** The HLL estimate of a register array (also used on unions built by the caller). */
export function hllEstimate(registers: Uint8Array): number {
  const m = registers.length;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i++) {
    const r = registers[i]!;
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
  return raw;
}

/** Estimate of the union of several HLLs of the same size, without allocating a sketch per call. */
export function hllUnionEstimate(sketches: readonly Hll[], scratch: Uint8Array): number {
  scratch.fill(0);
  for (const s of sketches) {
    const r = s.registers;
    for (let i = 0; i < scratch.length; i++) if (r[i]! > scratch[i]!) scratch[i] = r[i]!;
  }
  return hllEstimate(scratch);
}

/**
 * A bitmap for linear counting: distinct values ≈ −n·ln(zeros/n). Two bitmaps over the same
 * hash positions also answer "how many of the failing accounts later succeeded" (the AND of the
 * failure bitmap with the success bitmap), which no HLL can do. `n` bits count up to ≈ 2n
 * distinct values within a few percent; beyond that the estimate saturates at n·ln(n).
 */
export class BitCounter {
  readonly words: Uint32Array;

  constructor(bits: number) {
    if (bits % 32 !== 0 || bits < 32)
      throw new RangeError(`BitCounter bits must be a multiple of 32, got ${bits}`);
    this.words = new Uint32Array(bits / 32);
  }

  get size(): number {
    return this.words.length * 32;
  }

  /** Sets the bit of a hash; returns true if it was clear. */
  set(h: number): boolean {
    const bit = h % this.size;
    const w = bit >>> 5;
    const mask = 1 << (bit & 31);
    const was = this.words[w]! & mask;
    this.words[w] = this.words[w]! | mask;
    return was === 0;
  }

  has(h: number): boolean {
    const bit = h % this.size;
    return (this.words[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  clear(): void {
    this.words.fill(0);
  }

  estimate(): number {
    return linearCount(this.words.length * 32, popcountWords(this.words));
  }

  get bytes(): number {
    return this.words.length * 4 + 16;
  }
}

export function popcount32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}

function popcountWords(words: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) n += popcount32(words[i]!);
  return n;
}

/** Linear-counting estimate from `set` of `n` bits set. */
export function linearCount(n: number, set: number): number {
  if (set >= n) return n * Math.log(n);
  return -n * Math.log((n - set) / n);
}

/**
 * Exact distinct count of hashes up to `cap`, then a HyperLogLog: exact where thresholds sit
 * (tens), bounded where an attacker pushes (millions). ~4 B per value up to the cap.
 */
export class CappedDistinct {
  private exact: number[] | null = [];
  private hll: Hll | null = null;
  private readonly cap: number;
  private readonly hllBits: number;

  constructor(cap: number, hllBits = 6) {
    this.cap = cap;
    this.hllBits = hllBits;
  }

  /** Adds a hash; returns true if it was (probably) new. */
  add(h: number): boolean {
    if (this.exact) {
      if (this.exact.includes(h)) return false;
      if (this.exact.length < this.cap) {
        // A copy of exact length (concat; push or a spread would grow the store by 16 slots, ~130 B): most of
        // these sets (a credential's addresses in a window) hold one or two values.
        this.exact = this.exact.concat(h);
        return true;
      }
      this.hll = new Hll(this.hllBits);
      for (const x of this.exact) this.hll.add(x);
      this.exact = null;
    }
    return this.hll!.add(h);
  }

  has(h: number): boolean {
    return this.exact ? this.exact.includes(h) : false;
  }

  get count(): number {
    return this.exact ? this.exact.length : Math.max(this.cap, Math.round(this.hll!.estimate()));
  }

  clear(): void {
    this.exact = [];
    this.hll = null;
  }

  get bytes(): number {
    return this.exact ? 24 + this.exact.length * 8 : 24 + this.hll!.bytes;
  }
}
