import { type Static, Type as T } from '@sinclair/typebox';

/**
 * The canonical API call event (docs/design.md §3). This schema is the single definition: the
 * TypeScript type below, the published JSON Schema (docs/schemas/api-event.schema.json) and the
 * compiled validator at the ingest boundary all come from it.
 */

const Nullable = <
  S extends ReturnType<typeof T.String> | ReturnType<typeof T.Integer> | ReturnType<typeof T.Number>,
>(
  schema: S,
) => T.Union([schema, T.Null()]);

export const CREDENTIAL_KINDS = ['api_key', 'jwt', 'mtls', 'basic', 'kerberos', 'session', 'none'] as const;
export const AUTH_OUTCOMES = ['success', 'failure', 'none', 'unknown'] as const;
export const OBJECT_ID_LOCATIONS = ['path', 'query'] as const;
/** What kind of principal made the call; `batch` is a workload acting with no end user. */
export const PRINCIPAL_KINDS = ['user', 'service', 'batch', 'anonymous', 'unknown'] as const;

export const HttpMethod = T.String({
  pattern: '^[A-Z][A-Z0-9_-]{0,31}$',
  description: 'Upper-case HTTP method.',
});

export const Credential = T.Object(
  {
    kind: T.Union(
      CREDENTIAL_KINDS.map((k) => T.Literal(k)),
      { description: 'How the caller presented its identity.' },
    ),
    fingerprint: Nullable(
      T.String({
        maxLength: 128,
        description: 'Keyed HMAC of the secret (never the secret): stable per credential and key epoch.',
      }),
    ),
    ref: Nullable(
      T.String({
        maxLength: 512,
        description: 'A non-secret id the gateway can act on (Kong credential id, AWS apiKeyId).',
      }),
    ),
    issuer: Nullable(T.String({ maxLength: 512, description: 'Token issuer, CA or identity provider.' })),
  },
  { additionalProperties: false },
);

export const Identity = T.Object(
  {
    credential: Credential,
    principal: T.Union(
      PRINCIPAL_KINDS.map((k) => T.Literal(k)),
      { description: 'Whether an end user, a workload with no user (batch), or nobody is behind the call.' },
    ),
    service: Nullable(
      T.String({
        maxLength: 512,
        description: 'Calling workload: SPIFFE id, OAuth client_id, Kong consumer.',
      }),
    ),
    user: Nullable(
      T.String({
        maxLength: 512,
        description: 'End user: JWT sub, username. null when no user is behind the call.',
      }),
    ),
    tenant: Nullable(T.String({ maxLength: 256 })),
    scopes: T.Array(T.String({ maxLength: 256 }), { maxItems: 64 }),
    auth: T.Union(
      AUTH_OUTCOMES.map((k) => T.Literal(k)),
      { description: 'Outcome of authentication for this call.' },
    ),
  },
  { additionalProperties: false },
);

export const ObjectRef = T.Object(
  {
    name: T.String({ maxLength: 128, description: 'Parameter name in the route template.' }),
    value: T.String({ maxLength: 512 }),
    in: T.Union(OBJECT_ID_LOCATIONS.map((k) => T.Literal(k))),
  },
  { additionalProperties: false },
);

/**
 * Spec conformance codes the ingest route stage records (never the offending values: query
 * values are not kept on the event). `param_*` name a parameter; `method_undocumented` and
 * `status_undocumented` name none.
 */
export const SPEC_VIOLATION_CODES = [
  'param_type',
  'param_format',
  'param_enum',
  'param_pattern',
  'param_range',
  'param_length',
  'param_required',
  'param_unknown',
  'method_undocumented',
  'status_undocumented',
] as const;
/**
 * `documented`: the path and method match an operation of a loaded spec. `undocumented_method`:
 * the path matches, the method does not. `shadow`: a spec covers this host/base path but no path
 * matches.
 */
export const SPEC_MATCH_STATUSES = ['documented', 'undocumented_method', 'shadow'] as const;

export const SpecViolation = T.Object(
  {
    code: T.Union(SPEC_VIOLATION_CODES.map((c) => T.Literal(c))),
    name: T.Union([T.String({ maxLength: 128 }), T.Null()], {
      description: 'Parameter name, when the code names one.',
    }),
    in: T.Union([T.Literal('path'), T.Literal('query'), T.Literal('header'), T.Null()]),
  },
  { additionalProperties: false },
);

/** What the ingest route stage learned by matching the call against the loaded OpenAPI specs. */
export const SpecAnnotation = T.Object(
  {
    status: T.Union(SPEC_MATCH_STATUSES.map((s) => T.Literal(s))),
    specId: T.Union([T.String({ maxLength: 256 }), T.Null()], {
      description: 'Which loaded spec (title@version).',
    }),
    operationId: T.Union([T.String({ maxLength: 256 }), T.Null()]),
    deprecated: T.Boolean({
      description: 'The operation is marked deprecated (or belongs to a retired API version).',
    }),
    securityRequired: T.Boolean({
      description: 'The operation requires a security scheme (no empty alternative).',
    }),
    requiredScopes: T.Array(T.String({ maxLength: 256 }), {
      maxItems: 32,
      description: 'OAuth2/OIDC scopes the operation requires (any one security alternative).',
    }),
    violations: T.Array(SpecViolation, { maxItems: 32 }),
  },
  { additionalProperties: false },
);

export const ApiEventSchema = T.Object(
  {
    schemaVersion: T.Literal(1),
    id: T.String({
      minLength: 1,
      maxLength: 128,
      description: 'Event id; stable for the same source record (idempotency).',
    }),
    ts: T.Integer({ minimum: 0, description: 'Event time of the request, ms since the Unix epoch.' }),
    ingestTs: T.Integer({
      minimum: 0,
      description: 'When apiwatch received the record, ms since the Unix epoch.',
    }),
    request: T.Object(
      {
        method: HttpMethod,
        scheme: Nullable(T.String({ maxLength: 16 })),
        host: Nullable(T.String({ maxLength: 512 })),
        path: T.String({ minLength: 1, maxLength: 8192, description: 'Raw path without the query string.' }),
        queryKeys: T.Array(T.String({ maxLength: 256 }), {
          maxItems: 128,
          description: 'Query parameter names; values are never kept.',
        }),
        route: Nullable(
          T.String({ maxLength: 1024, description: 'Route template, e.g. /users/{id}, when known.' }),
        ),
        bytes: Nullable(T.Integer({ minimum: 0 })),
        requestId: Nullable(T.String({ maxLength: 256 })),
      },
      { additionalProperties: false },
    ),
    response: T.Object(
      {
        status: T.Integer({
          minimum: 0,
          maximum: 999,
          description: '0 when the gateway never got a response.',
        }),
        bytes: Nullable(T.Integer({ minimum: 0 })),
        latencyMs: Nullable(T.Number({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
    client: T.Object(
      {
        ip: Nullable(T.String({ maxLength: 64, description: 'Derived client IP (X-Forwarded-For aware).' })),
        peerIp: Nullable(T.String({ maxLength: 64, description: 'Socket peer IP seen by the gateway.' })),
        userAgent: Nullable(T.String({ maxLength: 1024 })),
      },
      { additionalProperties: false },
    ),
    identity: Identity,
    objects: T.Array(ObjectRef, { maxItems: 32, description: 'Object identifiers in the call (for BOLA).' }),
    spec: T.Optional(
      T.Union([SpecAnnotation, T.Null()], {
        description:
          'Spec conformance from the ingest route stage; absent or null when no spec covers the call.',
      }),
    ),
    trace: T.Object(
      {
        traceId: Nullable(T.String({ maxLength: 64 })),
        spanId: Nullable(T.String({ maxLength: 32 })),
      },
      { additionalProperties: false },
    ),
    source: T.Object(
      {
        kind: T.String({
          minLength: 1,
          maxLength: 64,
          description: 'Format id of the parser that produced the event.',
        }),
        gateway: Nullable(
          T.String({ maxLength: 256, description: 'Which gateway instance or cluster emitted it.' }),
        ),
        collector: Nullable(
          T.String({ maxLength: 256, description: 'Authenticated collector that shipped it.' }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://apiwatch.dev/schemas/api-event.schema.json',
    title: 'ApiEvent',
  },
);

export type ApiEvent = Static<typeof ApiEventSchema>;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];
export type AuthOutcome = (typeof AUTH_OUTCOMES)[number];
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];
export type ObjectRefValue = Static<typeof ObjectRef>;
export type SpecAnnotationValue = Static<typeof SpecAnnotation>;
export type SpecViolationCode = (typeof SPEC_VIOLATION_CODES)[number];
