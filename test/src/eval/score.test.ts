import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleFinding, type Finding } from '@apiwatch/core';
import { benignGate, checkFloors, type Floors } from './gates.ts';
import type { Label } from './pipeline.ts';
import { episodes, median, score } from './score.ts';

const MIN = 60_000;

function label(
  id: string,
  kind: string,
  attacker: string[],
  start: number,
  end: number,
  extra: Partial<Label> = {},
): Label {
  return {
    id,
    kind,
    variant: 'v',
    description: 'd',
    start,
    end,
    graceMs: 10 * MIN,
    attacker,
    related: [...attacker, ...(extra.related ?? [])],
    eventIds: [],
    needsIdentity: false,
    observable: true,
    ...extra,
  };
}

function finding(
  id: string,
  detector: string,
  entity: string,
  detectedAt: number,
  extra: Partial<Finding> = {},
): Finding {
  const base = exampleFinding();
  const colon = entity.indexOf(':');
  return {
    ...base,
    id,
    detector,
    family: detector.split('.')[0] as Finding['family'],
    entity: {
      kind: entity.slice(0, colon) as Finding['entity']['kind'],
      id: entity.slice(colon + 1),
      name: null,
      ref: null,
    },
    detectedAt,
    firstSeen: detectedAt - MIN,
    lastSeen: detectedAt,
    ...extra,
  };
}

const KINDS = ['auth.brute_force', 'volume.route_spike', 'recon.forced_browsing'];

describe('eval scoring', () => {
  const t0 = Date.UTC(2026, 0, 26, 10);
  const labels = [
    label('auth.brute_force#1', 'auth.brute_force', ['ip:203.0.113.9'], t0, t0 + 20 * MIN, {
      related: ['endpoint:POST /login'],
    }),
    label('auth.brute_force#2', 'auth.brute_force', ['ip:203.0.113.10'], t0 + 60 * MIN, t0 + 70 * MIN),
    label('auth.brute_force#3', 'auth.brute_force', ['ip:203.0.113.11'], t0 + 120 * MIN, t0 + 130 * MIN),
    label('recon.forced_browsing#1', 'recon.forced_browsing', ['ip:198.51.100.1'], t0, t0 + 5 * MIN, {
      observable: false,
    }),
  ];

  it('matches findings to attacks by kind, entity and time; counts episodes, collateral and false findings', () => {
    const findings = [
      // Attack 1: fired after 2 minutes, resolved later (same episode id).
      finding('e1', 'auth.brute_force', 'ip:203.0.113.9', t0 + 2 * MIN),
      finding('e1', 'auth.brute_force', 'ip:203.0.113.9', t0 + 40 * MIN, {
        status: 'resolved',
        endedAt: t0 + 35 * MIN,
      }),
      // Attack 2: fired after 4 minutes.
      finding('e2', 'auth.brute_force', 'ip:203.0.113.10', t0 + 64 * MIN),
      // Attack 3: the attacker named, but raised before the attack started: not a detection.
      finding('e3', 'auth.brute_force', 'ip:203.0.113.11', t0 + 100 * MIN, {
        firstSeen: t0 + 99 * MIN,
        lastSeen: t0 + 100 * MIN,
      }),
      // The route under attack 1 spiked while it ran: collateral, not false.
      finding('e4', 'volume.route_spike', 'endpoint:POST /login', t0 + 5 * MIN),
      // An office NAT address: false.
      finding('e5', 'auth.brute_force', 'ip:198.51.100.10', t0 + 5 * MIN),
      // The attacker of attack 1 named a day later: false.
      finding('e6', 'auth.brute_force', 'ip:203.0.113.9', t0 + 24 * 60 * MIN),
    ];
    const r = score(labels, findings, { benignEvents: 200_000, kinds: KINDS });
    const bf = r.kinds.find((k) => k.kind === 'auth.brute_force')!;
    assert.equal(bf.attacks, 3);
    assert.equal(bf.detected, 2);
    assert.equal(bf.recall, 2 / 3);
    assert.deepEqual(bf.missed, ['auth.brute_force#3']);
    assert.deepEqual(bf.ttdMs, [2 * MIN, 4 * MIN]);
    assert.equal(bf.medianTtdMs, 3 * MIN);
    assert.equal(bf.truePositives, 2);
    assert.equal(bf.falsePositives, 3);
    assert.equal(bf.precision, 2 / 5);
    const spike = r.kinds.find((k) => k.kind === 'volume.route_spike')!;
    assert.equal(spike.attacks, 0);
    assert.equal(spike.recall, null);
    assert.equal(spike.collateral, 1);
    assert.equal(spike.precision, null);
    // An attack the format cannot show is not counted in recall.
    const fb = r.kinds.find((k) => k.kind === 'recon.forced_browsing')!;
    assert.equal(fb.attacks, 0);
    assert.equal(r.episodes, 6);
    assert.equal(r.falsePositives, 3);
    assert.equal(r.falsePer100k, 1.5);
    assert.deepEqual(r.falseByDetector, { 'auth.brute_force': 3 });
  });

  it('counts time to detect from detectableFrom when the attack defines a later onset', () => {
    const l = label(
      'auth.success_after_failures#1',
      'auth.success_after_failures',
      ['user:ann'],
      t0,
      t0 + 30 * MIN,
      {
        detectableFrom: t0 + 20 * MIN,
      },
    );
    // Raised 1 minute after the successful login, 21 minutes after the first failure.
    const r = score([l], [finding('s1', 'auth.success_after_failures', 'user:ann', t0 + 21 * MIN)], {
      benignEvents: 1000,
      kinds: ['auth.success_after_failures'],
    });
    assert.deepEqual(r.kinds[0]!.ttdMs, [MIN]);
    // The match window still starts at start: a finding between start and the onset counts, at 0.
    const early = score([l], [finding('s2', 'auth.success_after_failures', 'user:ann', t0 + 5 * MIN)], {
      benignEvents: 1000,
      kinds: ['auth.success_after_failures'],
    });
    assert.deepEqual(early.kinds[0]!.ttdMs, [0]);
  });

  it('judges false findings from the scored period on; earlier ones are the learning period', () => {
    const findings = [
      finding('old', 'auth.brute_force', 'ip:198.51.100.10', t0 - 60 * MIN),
      finding('new', 'auth.brute_force', 'ip:198.51.100.10', t0 + 5 * MIN),
    ];
    const r = score(labels, findings, { benignEvents: 100_000, kinds: KINDS, fromMs: t0 });
    assert.equal(r.falsePositives, 1);
    assert.equal(r.learningFindings, 1);
    const g = benignGate(findings, [], t0);
    assert.deepEqual([g.episodes, g.learning, g.unexpected.length], [1, 1, 1]);
  });

  it('groups updates into episodes by finding id', () => {
    const eps = episodes([
      finding('a', 'auth.brute_force', 'ip:1.1.1.1', 5),
      finding('b', 'auth.brute_force', 'ip:1.1.1.1', 3),
      finding('a', 'auth.brute_force', 'ip:1.1.1.1', 9),
    ]);
    assert.deepEqual(
      eps.map((e) => [e.id, e.updates.length, e.firstDetectedAt]),
      [
        ['b', 1, 3],
        ['a', 2, 5],
      ],
    );
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([]), null);
  });

  it('the benign gate fails unlisted findings and reports stale entries', () => {
    const findings = [
      finding('x', 'auth.brute_force', 'ip:34.102.77.21', 1),
      finding('y', 'volume.scraping', 'service:search-indexer', 2),
    ];
    const known = [
      {
        detector: 'auth.brute_force',
        entity: '^ip:34\\.102\\.',
        reason: 'the legacy-sync CronJob replays a revoked key',
      },
      { detector: 'recon.forced_browsing', entity: '.*', reason: 'stale entry that matches nothing at all' },
    ];
    const g = benignGate(findings, known);
    assert.equal(g.episodes, 2);
    assert.deepEqual(
      g.unexpected.map((e) => e.id),
      ['y'],
    );
    assert.equal(g.listed.length, 1);
    assert.deepEqual(
      g.unused.map((u) => u.detector),
      ['recon.forced_browsing'],
    );
  });

  it('floors: recall floors and time-to-detect ceilings per kind, a false-finding ceiling', () => {
    const findings = [
      finding('e1', 'auth.brute_force', 'ip:203.0.113.9', t0 + 7 * MIN),
      finding('e5', 'auth.brute_force', 'ip:198.51.100.10', t0),
    ];
    const r = score(labels, findings, { benignEvents: 100_000, kinds: KINDS });
    const floors: Floors = {
      corpus: { seed: 1, weeks: 4, scale: 1, perKind: 3, format: 'kong' },
      falsePer100k: 1,
      kinds: {
        'auth.brute_force': { recall: 0.3, medianTtdMinutes: 5 },
        'recon.forced_browsing': { recall: 0, medianTtdMinutes: null },
      },
    };
    assert.deepEqual(checkFloors(r, floors), [
      'auth.brute_force: median time to detect 7.0 min is above the ceiling 5 min.',
    ]);
    floors.kinds['auth.brute_force'] = { recall: 0.5, medianTtdMinutes: 10 };
    floors.falsePer100k = 0.5;
    assert.deepEqual(checkFloors(r, floors), [
      'auth.brute_force: recall 0.33 is below the floor 0.5.',
      'false findings 1.00 per 100k benign events exceed the ceiling 0.5.',
    ]);
  });
});
