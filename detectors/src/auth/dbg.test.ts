import { test } from 'node:test';
import { bruteForce } from './brute-force.ts';
import { HOUR, natLogins, runDetector, T0, MIN } from './testing.ts';
test('dbg', () => {
  for (const [name, ev] of [
    ['office', natLogins({ ip: '192.0.2.10', users: 400, startMs: T0, spanMs: 9 * HOUR, loginsPerUser: 6, typoRate: 0.08, giveUpRate: 0.02, seed: 1 })],
    ['rush', natLogins({ ip: '192.0.2.10', users: 400, startMs: T0, spanMs: 20 * MIN, loginsPerUser: 1, typoRate: 0.1, giveUpRate: 0.03, seed: 2 })],
    ['carrier', natLogins({ ip: '100.64.7.1', users: 3000, startMs: T0, spanMs: 2 * HOUR, loginsPerUser: 2, typoRate: 0.06, giveUpRate: 0.03, seed: 3 })],
  ] as const) {
    const res = runDetector(bruteForce, [...ev]);
    console.log(name, ev.length, res.firing.length, res.firing.map((f) => f.summary).slice(0, 2));
  }
});
