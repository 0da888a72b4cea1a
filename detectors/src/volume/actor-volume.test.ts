import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { type CallSpec, call, DetectorHarness } from '../bola/harness.ts';
import { actorSpike } from './actor-spike.ts';
import { exfiltration } from './exfiltration.ts';
import { scraping } from './scraping.ts';

const DAY = 86_400_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 0, 0, 0); // Monday 00:00 UTC

/** `per5` calls every five minutes between `from` and `to` (evenly spaced). */
function steady(
  c: Omit<CallSpec, 'ts'>,
  from: number,
  to: number,
  per5: number,
  hours?: [number, number],
): ApiEvent[] {
  const out: ApiEvent[] = [];
  const step = (5 * MIN) / per5;
  for (let t = from; t < to; t += step) {
    const h = new Date(t).getUTCHours();
    if (hours && (h < hours[0] || h >= hours[1])) continue;
    out.push(call({ ...c, ts: Math.floor(t) }));
  }
  return out;
}

test('actor_spike positive: a known user bursts to 100x its habit; found within 5 minutes', () => {
  const h = new DetectorHarness(actorSpike);
  const user = { user: 'carol', route: '/api/items' };
  h.run(steady(user, T0, T0 + 3 * DAY, 20, [8, 18]));
  const start = T0 + 3 * DAY + 10 * 3_600_000;
  const found = h.run(steady(user, start, start + 10 * MIN, 2000));
  const f = found.find((d) => (d.status ?? 'firing') === 'firing');
  assert.ok(f, 'fires');
  assert.equal(f.entity.id, 'carol');
  assert.ok(f.at - start <= 5 * MIN, `detected after ${(f.at - start) / 1000} s`);
  assert.equal(f.evidence.counts.historyDays, 3);
  h.advance(start + 2 * 3_600_000);
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('actor_spike positive: a never-seen API key floods', () => {
  const h = new DetectorHarness(actorSpike);
  h.run(steady({ credential: 'fp-new', credentialKind: 'api_key', route: '/login' }, T0, T0 + 6 * MIN, 5000));
  assert.equal(h.firing().length, 1);
});

test('actor_spike negative: an indexer’s steady flood, a Monday peak, a growing nightly batch, an office NAT', () => {
  const h = new DetectorHarness(actorSpike);
  const events = [
    ...steady(
      { service: 'indexer', credential: 'fp-idx', credentialKind: 'api_key', route: '/catalog' },
      T0,
      T0 + 1.5 * DAY,
      900,
    ),
    // Weekdays 60/5 min, Monday morning 2.5x.
    ...steady({ user: 'dave', route: '/api/items' }, T0 - 5 * DAY, T0, 60, [8, 18]),
    ...steady({ user: 'dave', route: '/api/items' }, T0, T0 + 3_600_000 * 12, 150, [8, 12]),
    // A nightly job at 02:00 for 15 minutes, 2000/5 min, growing 30% a night.
    ...[0, 1, 2, 3].flatMap((d) =>
      steady(
        { service: 'backup', credential: 'fp-bk', credentialKind: 'api_key', route: '/export' },
        T0 + d * DAY + 2 * 3_600_000,
        T0 + d * DAY + 2 * 3_600_000 + 15 * MIN,
        Math.round(2000 * 1.3 ** d),
      ),
    ),
  ];
  // 200 people behind one office IP, browsing anonymously: 4000 calls in 5 min at first sight.
  const office: ApiEvent[] = [];
  for (let i = 0; i < 8000; i++)
    office.push(
      call({
        ts: T0 + 9 * 3_600_000 + Math.floor(i * 75),
        ip: '198.51.100.10',
        userAgent: `Browser/${i % 200}`,
        route: '/catalog',
      }),
    );
  h.run([...events, ...office]);
  assert.deepEqual(
    h.firing().map((f) => f.entity.id),
    [],
  );
});

test('exfiltration positive: a user who pulls kilobytes pulls 400 MB in 5 minutes', () => {
  const h = new DetectorHarness(exfiltration);
  const user = { user: 'erin', route: '/api/documents/{id}', responseBytes: 5_000 };
  h.run(steady(user, T0, T0 + 2 * DAY, 30, [8, 18]));
  const start = T0 + 2 * DAY + 11 * 3_600_000;
  h.run(steady({ ...user, responseBytes: 2_000_000 }, start, start + 6 * MIN, 200));
  const f = h.firing()[0];
  assert.ok(f);
  assert.equal(f.entity.id, 'erin');
  assert.ok(f.evidence.observed >= 50_000_000);
});

test('exfiltration negative: nightly backups, failed calls and calls without logged bytes', () => {
  const h = new DetectorHarness(exfiltration);
  const events = [0, 1, 2, 3].flatMap((d) =>
    steady(
      {
        service: 'backup',
        credential: 'fp-bk',
        credentialKind: 'api_key',
        route: '/export',
        responseBytes: 1_000_000,
      },
      T0 + d * DAY + 2 * 3_600_000,
      T0 + d * DAY + 2 * 3_600_000 + 20 * MIN,
      d === 3 ? 240 : 180,
    ),
  );
  events.push(
    ...steady({ user: 'x', route: '/big', responseBytes: 5_000_000, status: 500 }, T0, T0 + 10 * MIN, 200),
  );
  events.push(...steady({ user: 'y', route: '/big', responseBytes: null }, T0, T0 + 10 * MIN, 200));
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('scraping positive: paging through the catalogue far above habit', () => {
  const h = new DetectorHarness(scraping);
  h.run(steady({ user: 'frank', route: '/products', queryKeys: ['page'] }, T0, T0 + 2 * DAY, 5, [9, 17]));
  const start = T0 + 2 * DAY + 12 * 3_600_000;
  h.run(
    steady({ user: 'frank', route: '/products', queryKeys: ['page', 'limit'] }, start, start + 6 * MIN, 600),
  );
  const f = h.firing()[0];
  assert.ok(f);
  assert.equal(f.entity.id, 'frank');
});

test('scraping positive: a search endpoint hammered by a new credential', () => {
  const h = new DetectorHarness(scraping);
  h.run(
    steady({ credential: 'fp-bot', credentialKind: 'api_key', route: '/api/search' }, T0, T0 + 6 * MIN, 900),
  );
  assert.equal(h.firing().length, 1);
});

test('scraping negative: a partner sync with its own steady habit; heavy non-list traffic', () => {
  const h = new DetectorHarness(scraping);
  h.run([
    ...steady(
      {
        service: 'partner',
        credential: 'fp-p',
        credentialKind: 'api_key',
        route: '/orders',
        queryKeys: ['cursor'],
      },
      T0,
      T0 + 2 * DAY,
      300,
    ),
    ...steady({ user: 'g', route: '/orders/{id}' }, T0, T0 + 10 * MIN, 3000),
  ]);
  assert.deepEqual(h.firing(), []);
  for (const [k] of h.states) assert.ok(h.sizeOf(k) < 1024, `state of ${k} under 1 KiB`);
});

test('actor_spike positive: one past burst does not make the actor immune (typical, not highest, peak)', () => {
  const h = new DetectorHarness(actorSpike);
  const partner = {
    service: 'zoo',
    credential: 'fp-zoo',
    credentialKind: 'api_key' as const,
    route: '/inventory',
  };
  // Three calls per five minutes in working hours, and one day with a 300-call export.
  h.run([
    ...steady(partner, T0, T0 + 5 * DAY, 3, [8, 18]),
    ...steady(
      { ...partner, route: '/export' },
      T0 + 2 * DAY + 3 * 3_600_000,
      T0 + 2 * DAY + 3 * 3_600_000 + 5 * MIN,
      300,
    ),
  ]);
  const start = T0 + 5 * DAY + 10 * 3_600_000;
  // A loop at 25 a minute: under the old 4 × highest-peak bar (1200), far above its habit.
  h.run(steady(partner, start, start + 15 * MIN, 125));
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.ok(f.at - start <= 5 * MIN, `after ${(f.at - start) / 1000} s`);
  assert.equal(f.evidence.baseline, 3, 'judged against its typical day');
});

test('actor_spike negative: a weekly job on its weekday; a power user at three times a quiet habit', () => {
  const h = new DetectorHarness(actorSpike);
  const job = {
    service: 'weekly',
    credential: 'fp-wk',
    credentialKind: 'api_key' as const,
    route: '/reports',
  };
  const events: ApiEvent[] = [];
  for (let d = 0; d < 22; d++) {
    // Every day a few calls; every seventh day a 400-call run at 03:00.
    events.push(...steady(job, T0 + d * DAY + 9 * 3_600_000, T0 + d * DAY + 9 * 3_600_000 + 10 * MIN, 4));
    if (d % 7 === 0)
      events.push(
        ...steady(
          job,
          T0 + d * DAY + 3 * 3_600_000,
          T0 + d * DAY + 3 * 3_600_000 + 20 * MIN,
          d === 21 ? 480 : 400,
        ),
      );
  }
  // A person whose busy five minutes hold ~20 calls has a 50-call morning: under the floor of 60.
  events.push(...steady({ user: 'hank', route: '/api/items' }, T0, T0 + 7 * DAY, 20, [9, 10]));
  events.push(
    ...steady(
      { user: 'hank', route: '/api/items' },
      T0 + 7 * DAY + 9 * 3_600_000,
      T0 + 7 * DAY + 9 * 3_600_000 + 10 * MIN,
      50,
    ),
  );
  events.sort((a, b) => a.ts - b.ts);
  h.run(events);
  assert.deepEqual(
    h.firing().map((f) => f.entity.id),
    [],
  );
});

test('scraping positive: a partner walks the catalogue item by item (detail pages, no list parameter)', () => {
  const h = new DetectorHarness(scraping);
  const p = {
    service: 'shop',
    credential: 'fp-shop',
    credentialKind: 'api_key' as const,
    route: '/pet/{petId}',
  };
  const habit: ApiEvent[] = [];
  for (let d = 0; d < 3; d++)
    for (let i = 0; i < 40; i++)
      habit.push(call({ ...p, path: `/pet/${1 + (i % 5)}`, ts: T0 + d * DAY + 9 * 3_600_000 + i * 60_000 }));
  h.run(habit);
  const start = T0 + 3 * DAY + 12 * 3_600_000;
  const crawl: ApiEvent[] = [];
  for (let i = 0; i < 400; i++) crawl.push(call({ ...p, path: `/pet/${100 + i}`, ts: start + i * 1000 }));
  h.run(crawl);
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.equal(f.entity.id, 'fp-shop');
  assert.ok(f.at - start <= 3 * MIN);
});

test('scraping negative: re-reading the same few items all day is not a crawl', () => {
  const h = new DetectorHarness(scraping);
  const events: ApiEvent[] = [];
  for (let i = 0; i < 2000; i++)
    events.push(
      call({ user: 'ivy', route: '/documents/{id}', path: `/documents/${i % 20}`, ts: T0 + i * 3000 }),
    );
  h.run(events);
  assert.deepEqual(h.firing(), []);
});
