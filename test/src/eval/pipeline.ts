import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ApiEvent, actorKey, type Config, type Result } from '@apiwatch/core';
import {
  asRecordResult,
  createIdentityContext,
  createIngestPipeline,
  findParser,
  loadRouteTemplater,
  type ParseError,
  type RawRecord,
} from '@apiwatch/ingest';
import type { Corpus } from './corpus.ts';
import { SPEC_FILES } from './population.ts';
import { type CorpusFormat, parserFormat } from './render.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The spec files of the corpus's APIs, absolute. */
export function corpusSpecs(): string[] {
  return Object.values(SPEC_FILES).map((f) => join(ROOT, f));
}

/**
 * The fingerprint key the evaluation parses with, so fingerprints (and the labels naming them)
 * are the same in every run. Not a secret: it only ever keys synthetic credentials. To replay a
 * written corpus with the same fingerprints, set APIWATCH_FINGERPRINT_KEY to it.
 */
export const EVAL_FINGERPRINT_KEY = 'a9e1f0c3b2d4e5f60718293a4b5c6d7e8f9012345678abcdef0123456789abcd';
export const EVAL_FINGERPRINT_KEY_ID = 'k1';

export type RecordReader = (record: RawRecord) => Result<ApiEvent[], ParseError>;

/**
 * One record → events the way `apiwatch replay` reads it: the one ingest pipeline (the format's
 * real parser with the configured identity rules, route templates and the spec annotation from
 * the corpus's specs, validation), with the evaluation's fingerprint key.
 */
export function corpusReader(
  format: CorpusFormat,
  config: Pick<Config, 'identity' | 'ingest'>,
): RecordReader {
  const parser = findParser(parserFormat(format));
  if (!parser) throw new Error(`no parser for ${format}`);
  const pipeline = createIngestPipeline({
    parser,
    identity: createIdentityContext(Buffer.from(EVAL_FINGERPRINT_KEY, 'hex'), EVAL_FINGERPRINT_KEY_ID, {
      identity: config.identity,
      source: parser.id,
    }),
    routes: loadRouteTemplater({
      specs: [...config.ingest.specs, ...corpusSpecs()],
      inferRoutes: config.ingest.inferRoutes,
    }),
    gateway: null,
  });
  // Ingest time is not what detectors judge; a fixed one keeps parsed events reproducible.
  const now = Date.UTC(2026, 6, 1);
  return (record) => asRecordResult(pipeline.run(record, { now }));
}

/** Ground truth of one attack, resolved against the parsed events. */
export interface Label {
  /** `<kind>#<n>`, stable for a corpus. */
  id: string;
  kind: string;
  variant: string;
  description: string;
  start: number;
  end: number;
  graceMs: number;
  /** Time to detect counts from here (the attack's defining event; `start` unless the injector says). */
  detectableFrom?: number;
  /** Entities (`kind:id`) a finding may name to count as detecting this attack. */
  attacker: string[];
  /** Every actor, client address and endpoint of the attack's events: a finding naming one is collateral, not false. */
  related: string[];
  eventIds: string[];
  /** The attack is visible only in formats that log the credential (not nginx combined). */
  needsIdentity: boolean;
  /** Whether recall counts this attack: false for identity attacks in a format that logs no credential. */
  observable: boolean;
}

export interface ParsedCorpus {
  events: ApiEvent[];
  labels: Label[];
  /** Events that belong to no attack. */
  benignEvents: number;
  /** Of those, the events in the scored period (the last week). */
  benignScoredEvents: number;
  rejected: number;
}

export function endpointKey(e: ApiEvent): string {
  return `endpoint:${e.request.method} ${e.request.route ?? e.request.path}`;
}

export function parseCorpus(
  corpus: Corpus,
  records: readonly string[],
  read: RecordReader,
  format: CorpusFormat,
): ParsedCorpus {
  const events: ApiEvent[] = [];
  const byLabel = corpus.labels.map(() => ({
    ids: [] as string[],
    first: Number.POSITIVE_INFINITY,
    related: new Set<string>(),
    actors: new Set<string>(),
    endpoints: new Set<string>(),
  }));
  let rejected = 0;
  let benign = 0;
  let benignScored = 0;
  records.forEach((text, i) => {
    const result = read({ text });
    if (!result.ok) {
      rejected++;
      return;
    }
    const label = corpus.requests[i]!.label;
    for (const e of result.value) {
      events.push(e);
      if (label < 0) {
        benign++;
        if (e.ts >= corpus.scoredStart) benignScored++;
        continue;
      }
      const l = byLabel[label]!;
      l.ids.push(e.id);
      if (e.ts < l.first) l.first = e.ts;
      const actor = actorKey(e);
      l.actors.add(actor);
      l.related.add(actor);
      if (e.client.ip) l.related.add(`ip:${e.client.ip}`);
      const ep = endpointKey(e);
      l.endpoints.add(ep);
      l.related.add(ep);
      if (e.identity.user) l.related.add(`user:${e.identity.user}`);
      if (e.identity.service) l.related.add(`service:${e.identity.service}`);
      if (e.identity.credential.fingerprint) l.related.add(`credential:${e.identity.credential.fingerprint}`);
    }
  });
  const labels: Label[] = corpus.labels.map((d, i) => {
    const l = byLabel[i]!;
    const attacker = new Set(d.attacker);
    if (d.attackerIsActor) for (const a of l.actors) attacker.add(a);
    if (d.attackerIsEndpoint) for (const ep of l.endpoints) attacker.add(ep);
    for (const a of attacker) l.related.add(a);
    const n = corpus.labels.slice(0, i).filter((x) => x.kind === d.kind).length;
    // An attack starts with its first request: an injector's start is when its clock began, and
    // a few requests spread over an hour (3 documents in 60 min) can leave minutes before the
    // first, which no detector can see. Attacks made of absence (a route drop) have no events.
    const start = Number.isFinite(l.first) ? Math.max(d.start, l.first) : d.start;
    return {
      id: `${d.kind}#${n + 1}`,
      kind: d.kind,
      variant: d.variant,
      description: d.description,
      start,
      end: Math.max(d.end, start),
      graceMs: d.graceMs,
      detectableFrom: Math.max(start, d.detectableFrom ?? start),
      attacker: [...attacker].sort(),
      related: [...l.related].sort(),
      eventIds: l.ids,
      needsIdentity: d.needsIdentity,
      observable: !(d.needsIdentity && format === 'nginx-combined'),
    };
  });
  return { events, labels, benignEvents: benign, benignScoredEvents: benignScored, rejected };
}
