import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actorKey, loadConfig } from '@apiwatch/core';
import { ATTACK_KINDS } from './attacks.ts';
import { buildCorpus, renderCorpus } from './corpus.ts';
import { corpusReader, type ParsedCorpus, parseCorpus } from './pipeline.ts';
import { CORPUS_FORMATS, type CorpusFormat } from './render.ts';

const config = loadConfig(undefined);
const small = { seed: 3, weeks: 1, scale: 0.05, perKind: 1 };

describe('eval corpus', () => {
  const corpus = buildCorpus(small);
  const cache = new Map<CorpusFormat, ParsedCorpus>();
  const parsedAs = (format: CorpusFormat): ParsedCorpus => {
    let p = cache.get(format);
    if (!p) {
      p = parseCorpus(corpus, renderCorpus(corpus, format), corpusReader(format, config), format);
      cache.set(format, p);
    }
    return p;
  };

  it('is deterministic per seed and differs between seeds', () => {
    const again = buildCorpus(small);
    assert.deepEqual(renderCorpus(again, 'kong'), renderCorpus(corpus, 'kong'));
    const other = renderCorpus(buildCorpus({ ...small, seed: 4 }), 'kong');
    assert.notDeepEqual(other.slice(0, 100), renderCorpus(corpus, 'kong').slice(0, 100));
  });

  it('injects every attack kind of the catalogue, in the scored week, in event-time order', () => {
    assert.deepEqual([...new Set(corpus.labels.map((l) => l.kind))].sort(), [...ATTACK_KINDS].sort());
    for (const l of corpus.labels) {
      assert.ok(l.start >= corpus.scoredStart && l.end <= corpus.end, `${l.kind} inside the scored week`);
      assert.ok(l.end >= l.start);
    }
    for (let i = 1; i < corpus.requests.length; i++)
      assert.ok(corpus.requests[i]!.ts >= corpus.requests[i - 1]!.ts);
  });

  for (const format of CORPUS_FORMATS) {
    it(`${format}: every record parses back through the real parser and every attack keeps its events and attacker`, () => {
      const parsed = parsedAs(format);
      assert.equal(parsed.rejected, 0);
      assert.equal(parsed.events.length, corpus.requests.length);
      for (const l of parsed.labels) {
        if (l.kind !== 'volume.route_drop') assert.ok(l.eventIds.length > 0, `${l.id} has events`);
        assert.ok(l.attacker.length > 0, `${l.id} names an attacker`);
      }
      // An attack starts with its first request (time to detect counts from it).
      const ts = new Map(parsed.events.map((e) => [e.id, e.ts]));
      for (const l of parsed.labels) {
        if (l.eventIds.length === 0) continue;
        const first = Math.min(...l.eventIds.map((id) => ts.get(id)!));
        // (to the second: some formats log whole seconds)
        assert.ok(l.start >= first && l.start - first < 1000, `${l.id} starts at its first event`);
        assert.ok((l.detectableFrom ?? l.start) >= l.start);
      }
      // The generator's route templates are what the spec matcher finds (typos and probes aside).
      let mismatched = 0;
      let checked = 0;
      parsed.events.forEach((e, i) => {
        const req = corpus.requests[i]!;
        if (req.label >= 0 || req.status === 404) return;
        checked++;
        if (e.request.route !== req.template) mismatched++;
      });
      assert.ok(
        mismatched / checked < 0.001,
        `${mismatched} of ${checked} benign routes differ from the generator's template`,
      );
    });
  }

  it('kong and nginx JSON give the same identities; the combined format only addresses and Basic users', () => {
    const kong = parseCorpus(corpus, renderCorpus(corpus, 'kong'), corpusReader('kong', config), 'kong');
    const nginx = parseCorpus(corpus, renderCorpus(corpus, 'nginx'), corpusReader('nginx', config), 'nginx');
    const combined = parseCorpus(
      corpus,
      renderCorpus(corpus, 'nginx-combined'),
      corpusReader('nginx-combined', config),
      'nginx-combined',
    );
    let same = 0;
    kong.events.forEach((e, i) => {
      const n = nginx.events[i]!;
      if (actorKey(e) === actorKey(n) && e.ts === n.ts && e.identity.tenant === n.identity.tenant) same++;
    });
    // API keys are fingerprinted alike; JWT users are keyed by subject in both.
    assert.ok(same / kong.events.length > 0.99, `${same} of ${kong.events.length} events agree`);
    const users = new Set(kong.events.map((e) => e.identity.tenant).filter(Boolean));
    assert.ok(users.size >= 12, 'tenants come from the JWT claims');
    assert.ok(
      combined.events.every(
        (e) => e.identity.credential.kind === 'none' || e.identity.credential.kind === 'basic',
      ),
    );
    const notObservable = combined.labels.filter((l) => !l.observable).map((l) => l.kind);
    assert.ok(notObservable.includes('bola.cross_tenant') && !notObservable.includes('auth.brute_force'));
  });

  it('attacks vary: sequential and UUID ids, path and query parameters, pools and single sources', () => {
    const en = buildCorpus({ ...small, scale: 0.01, perKind: 5, kinds: ['bola.object_enumeration'] });
    const parsed = parseCorpus(en, renderCorpus(en, 'kong'), corpusReader('kong', config), 'kong');
    const byId = new Map(parsed.events.map((e) => [e.id, e]));
    const enumEvents = parsed.labels.flatMap((l) => l.eventIds.map((id) => byId.get(id)!));
    assert.ok(
      enumEvents.some((e) => e.objects.some((o) => o.in === 'query')),
      'query-parameter ids',
    );
    const values = enumEvents.flatMap((e) => e.objects.map((o) => o));
    assert.ok(
      values.some((o) => /^[0-9a-f-]{36}$/.test(o.value)),
      'UUID ids',
    );
    assert.ok(
      values.some((o) => /^\d+$/.test(o.value)),
      'integer ids',
    );
    const stuffing = buildCorpus({
      ...small,
      scale: 0.01,
      perKind: 4,
      kinds: ['auth.credential_stuffing'],
    }).labels;
    assert.ok(
      stuffing.some((l) => l.attacker[0]!.startsWith('ip:')) &&
        stuffing.some((l) => l.attacker[0]!.startsWith('endpoint:')),
    );
  });
});
