/**
 * `npm run bench`: every benchmark, each printing its figure and its ratio to a raw floor
 * measured in the same run (absolute numbers vary between machines; ratios travel).
 *   npm run bench -- replay     only benchmarks whose file name contains "replay"
 */
import { globSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = globSync('*.bench.ts', { cwd: here })
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));
let failed = 0;
for (const file of files) {
  process.stdout.write(`\n## ${basename(file, '.bench.ts')}\n`);
  try {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { run(): Promise<BenchResult[]> };
    for (const r of await mod.run()) {
      const parts = [`${r.name}: ${fmt(r.value)} ${r.unit}`];
      if (r.floor !== undefined) parts.push(`floor ${fmt(r.floor)} ${r.unit}`);
      if (r.ratio !== undefined) parts.push(`ratio ${(r.ratio * 100).toFixed(1)}% of floor`);
      if (r.budget !== undefined) {
        const met = r.lowerIsBetter ? r.value < r.budget : r.value >= r.budget;
        parts.push(`budget ${r.lowerIsBetter ? '< ' : '≥ '}${fmt(r.budget)} (${met ? 'met' : 'NOT met'})`);
      }
      process.stdout.write(`  ${parts.join(' | ')}${r.note ? `\n    ${r.note}` : ''}\n`);
    }
  } catch (e) {
    failed++;
    process.stdout.write(`  FAILED: ${(e as Error).stack ?? String(e)}\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
