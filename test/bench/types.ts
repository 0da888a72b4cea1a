/** One figure a benchmark prints: its value, and the raw floor measured in the same run. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The raw floor (e.g. JSON.parse of the same bytes), same unit. */
  floor?: number;
  /** value / floor. */
  ratio?: number;
  /** The budget from docs/design.md §5, same unit, when there is one. */
  budget?: number;
  /** The budget is a ceiling (bytes, latency), not a floor (throughput). */
  lowerIsBetter?: boolean;
  note?: string;
}

/** Runs `fn` over `rounds` rounds after one warm-up and returns the median ops/s. */
export function medianRate(rounds: number, items: number, fn: () => void): number {
  fn();
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn();
    rates.push(items / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}
