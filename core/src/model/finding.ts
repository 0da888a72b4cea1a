import { type Static, Type as T } from '@sinclair/typebox';

/** The finding a detector emits (docs/design.md §3); one definition for the type, the schema and validation. */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export const ENTITY_KINDS = ['credential', 'user', 'service', 'ip', 'endpoint', 'tenant'] as const;
/** Detector families: the part of a detector id before the dot. */
export const DETECTOR_FAMILIES = ['auth', 'bola', 'spec', 'volume', 'recon'] as const;
/**
 * `firing`: the episode is open (emitted when it is first raised and, at most once per
 * update interval, while it grows). `resolved`: the episode ended (no qualifying event for the
 * detector's quiet period, judged on the watermark); `endedAt` is set.
 */
export const FINDING_STATUSES = ['firing', 'resolved'] as const;
/** OWASP API Security Top 10, 2023 edition. */
export const OWASP_API_2023 = [
  'API1:2023',
  'API2:2023',
  'API3:2023',
  'API4:2023',
  'API5:2023',
  'API6:2023',
  'API7:2023',
  'API8:2023',
  'API9:2023',
  'API10:2023',
] as const;
/** NIST SP 800-228 areas a detector maps to. */
export const NIST_AREAS = [
  'authentication',
  'authorization',
  'input-validation',
  'inventory',
  'rate-limiting',
  'monitoring',
] as const;

const Nullable = <S extends ReturnType<typeof T.String>>(schema: S) => T.Union([schema, T.Null()]);

export const FindingSchema = T.Object(
  {
    schemaVersion: T.Literal(2),
    id: T.String({
      minLength: 1,
      maxLength: 128,
      description:
        'Id of this episode (fingerprint + episode start): the same across its firing and resolved updates.',
    }),
    detector: T.String({
      pattern: '^[a-z]+\\.[a-z_]+$',
      description: 'Stable detector id, e.g. auth.brute_force.',
    }),
    family: T.Union(
      DETECTOR_FAMILIES.map((f) => T.Literal(f)),
      { description: 'The detector id before the dot.' },
    ),
    status: T.Union(
      FINDING_STATUSES.map((s) => T.Literal(s)),
      { description: 'firing while the episode is open; resolved once it ended (endedAt set).' },
    ),
    title: T.String({ maxLength: 256 }),
    summary: T.String({ maxLength: 2048, description: 'One sentence a SOC analyst can act on.' }),
    severity: T.Union(SEVERITIES.map((s) => T.Literal(s))),
    confidence: T.Number({ minimum: 0, maximum: 1 }),
    entity: T.Object(
      {
        kind: T.Union(ENTITY_KINDS.map((k) => T.Literal(k))),
        id: T.String({
          minLength: 1,
          maxLength: 512,
          description: 'Stable id: a credential fingerprint, user, service, IP, route or tenant.',
        }),
        name: Nullable(
          T.String({
            maxLength: 512,
            description:
              'What a human recognises next to a fingerprint: username, Kong consumer, OAuth client id, service, IP or route.',
          }),
        ),
        ref: Nullable(
          T.String({
            maxLength: 512,
            description:
              'Non-secret handle a gateway can revoke (Kong credential id, AWS apiKeyId, JWT jti); null when none is known.',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    route: Nullable(T.String({ maxLength: 1024 })),
    method: Nullable(T.String({ maxLength: 32 })),
    tenant: Nullable(T.String({ maxLength: 256 })),
    firstSeen: T.Integer({
      minimum: 0,
      description: 'Event time of the first event in the evidence, ms epoch.',
    }),
    lastSeen: T.Integer({
      minimum: 0,
      description: 'Event time of the last event in the evidence, ms epoch.',
    }),
    endedAt: T.Union([T.Integer({ minimum: 0 }), T.Null()], {
      description: 'Event time the episode ended (resolved findings), ms epoch; null while firing.',
    }),
    detectedAt: T.Integer({
      minimum: 0,
      description:
        "The detection runtime's clock (the watermark, event time) when this update was emitted, ms epoch.",
    }),
    evidence: T.Object(
      {
        observed: T.Number({ description: 'The measured value (count, rate, ratio).' }),
        baseline: T.Union([T.Number(), T.Null()], {
          description: 'What was expected; null for static thresholds.',
        }),
        threshold: T.Number(),
        windowSeconds: T.Integer({ minimum: 0 }),
        counts: T.Record(T.String(), T.Number()),
        sampleEventIds: T.Array(T.String(), { maxItems: 20 }),
        details: T.Record(T.String(), T.Unknown()),
      },
      { additionalProperties: false },
    ),
    owasp: T.Union(OWASP_API_2023.map((s) => T.Literal(s))),
    nist: T.Union(NIST_AREAS.map((s) => T.Literal(s))),
    recommendedAction: T.String({ maxLength: 1024 }),
    labels: T.Record(T.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), T.String({ maxLength: 256 }), {
      maxProperties: 16,
      description:
        'Bounded routing labels (route, tenant, environment, service, …) alerting matches on; never secrets.',
    }),
    fingerprint: T.String({
      minLength: 1,
      maxLength: 128,
      description:
        "Stable across repeats and episodes: a hash of the detector id, tenant, method and the detector's declared fingerprint fields. Used to de-duplicate and group.",
    }),
  },
  { additionalProperties: false, $id: 'https://apiwatch.dev/schemas/finding.schema.json', title: 'Finding' },
);

export type Finding = Static<typeof FindingSchema>;
export type Severity = (typeof SEVERITIES)[number];
export type EntityKind = (typeof ENTITY_KINDS)[number];
export type OwaspApi2023 = (typeof OWASP_API_2023)[number];
export type NistArea = (typeof NIST_AREAS)[number];
export type DetectorFamily = (typeof DETECTOR_FAMILIES)[number];
export type FindingStatus = (typeof FINDING_STATUSES)[number];
export type FindingEntity = Finding['entity'];
