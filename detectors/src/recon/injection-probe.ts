import { type ApiEvent, actorKey } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { actorFindingEntity, formatSpan } from '../auth/common.ts';
import { CappedDistinct, hash32 } from '../auth/sketch.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';

export const InjectionProbeConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 600,
      description:
        'An actor’s probes belong to one episode while each comes within this long of the previous one.',
    }),
    minProbes: T.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 3,
      description:
        'Distinct probing paths from one actor (one odd path is a typo or a broken client; scanners send dozens per minute).',
    }),
    quietSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 600,
      description: 'The episode ends (resolved update) after this long without a probe from the actor.',
    }),
  },
  { additionalProperties: false },
);
export type InjectionProbeConfig = Static<typeof InjectionProbeConfig>;

export const PROBE_CATEGORIES = ['traversal', 'sqli', 'xss', 'command', 'template'] as const;
export type ProbeCategory = (typeof PROBE_CATEGORIES)[number];

/**
 * Patterns on the percent-decoded (up to twice), lower-cased path. Each needs the syntax of an
 * attack, not a lone character: an apostrophe (o'reilly), parentheses, `{{userId}}` left
 * unresolved by a client, `select-from-menu` slugs or `;jsessionid=` matrix parameters do not
 * match. Query values are never on the event, so only the path (and query names) is probed.
 */
const PATTERNS: ReadonlyArray<[ProbeCategory, RegExp]> = [
  ['traversal', /(?:^|[/\\])\.\.(?:[/\\]|$)/],
  [
    'traversal',
    /\/etc\/(?:passwd|shadow|hosts)\b|\bwin\.ini\b|\bboot\.ini\b|\/proc\/self\/|\bweb-inf\/web\.xml/,
  ],
  ['sqli', /\bunion(?:\s|\/\*.*?\*\/|\()+(?:all(?:\s|\/\*.*?\*\/)+)?select\b/],
  ['sqli', /\bselect\s+[\w*,\s()@.'"`]+?\s+from\s+\w/],
  ['sqli', /['"`)]\s*(?:or|and|\|\||&&)\s*['"`(]?\s*[\w'"]+\s*['"`)]?\s*(?:=|<>|!=|\blike\b|>|<)/],
  ['sqli', /['"`]\s*(?:or|and)\s+(?:true|false|not|\d+)\b/],
  [
    'sqli',
    /\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\s+['"]|\binformation_schema\b|\bxp_cmdshell\b/,
  ],
  ['sqli', /['"`]\s*;\s*(?:drop|insert|update|delete|select|shutdown|exec)\s|['"`]\s*(?:--|#|\/\*)/],
  ['xss', /<\s*\/?\s*(?:script|iframe|svg|img|body|object|embed|details|math)\b/],
  [
    'xss',
    /\bjavascript\s*:|\bvbscript\s*:|\bon(?:error|load|mouseover|focus|toggle|click|begin)\s*=|\b(?:alert|prompt|confirm)\s*\(|document\.(?:cookie|domain)/,
  ],
  [
    'command',
    /(?:[;|`]|\|\||&&|\$\()\s*(?:cat|id|whoami|uname|wget|curl|nc|ncat|bash|sh|ping|nslookup|powershell|cmd)\b/,
  ],
  ['command', /\$\{ifs\}|\/bin\/(?:ba)?sh\b|\bcmd\.exe\b/],
  [
    'template',
    /\{\{\s*\d+\s*[*+\-/]\s*\d+\s*\}\}|\$\{\s*\d+\s*[*+\-/]\s*\d+\s*\}|<%=?\s*\d+\s*[*+]\s*\d+|#\{\s*\d+\s*[*+]\s*\d+\s*\}/,
  ],
  [
    'template',
    /\{\{[^}]*(?:__class__|__globals__|__builtins__|config\.|self\.|request\.|lipsum|cycler|joiner)|\$\{jndi:|\$\{(?:env|sys|java):/,
  ],
];

/** Characters without which no pattern can match: a cheap first pass over every event. */
const SUSPECT = /[%'"`<>;|${}\\]|\.\.|\(/;

/** Decodes percent-escapes up to twice (double encoding), tolerating malformed escapes. */
export function decodePath(path: string): string {
  let p = path;
  for (let i = 0; i < 2 && p.includes('%'); i++) {
    const next = p.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
    if (next === p) break;
    p = next;
  }
  return p.toLowerCase();
}

/** The probe categories a request path matches (empty for an ordinary path). */
export function classifyPath(path: string, queryKeys: readonly string[] = []): ProbeCategory[] {
  const joined = queryKeys.length ? `${path} ${queryKeys.join(' ')}` : path;
  if (!SUSPECT.test(joined)) return [];
  const decoded = decodePath(joined);
  const out: ProbeCategory[] = [];
  for (const [cat, re] of PATTERNS) if (!out.includes(cat) && re.test(decoded)) out.push(cat);
  return out;
}

interface ProbeState {
  paths: CappedDistinct;
  probes: number;
  categories: ProbeCategory[];
  samplePaths: string[];
  samples: string[];
  statuses: { ok: number; clientError: number; serverError: number };
  firstSeen: number;
  lastSeen: number;
  raisedAt: number;
  observed: number;
  tenant: string | null;
  host: string | null;
  userAgent: string | null;
  ref: string | null;
  name: string | null;
}

/**
 * `recon.injection_probe`: path traversal, SQL injection, XSS, command and template injection
 * payloads in request paths from one actor (OWASP API8:2023 security misconfiguration probing;
 * NIST SP 800-228 input validation). Actor scope; the per-event check is a regex pass that only
 * runs on paths with a suspicious character. One episode per actor while probes keep coming.
 */
export const injectionProbe = defineDetector({
  id: 'recon.injection_probe',
  title: 'Injection and traversal probing',
  owasp: 'API8:2023',
  nist: 'input-validation',
  severity: 'medium',
  configSchema: InjectionProbeConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy: (event: ApiEvent) =>
    classifyPath(event.request.path, event.request.queryKeys).length > 0 ? actorKey(event) : null,
  init: (_key, event): ProbeState => ({
    paths: new CappedDistinct(16, 6),
    probes: 0,
    categories: [],
    samplePaths: [],
    samples: [],
    statuses: { ok: 0, clientError: 0, serverError: 0 },
    firstSeen: event.ts,
    lastSeen: event.ts,
    raisedAt: 0,
    observed: 0,
    tenant: event.identity.tenant,
    host: event.request.host,
    userAgent: event.client.userAgent,
    ref: event.identity.credential.ref,
    name: event.identity.service ?? event.identity.user,
  }),
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    if (s.raisedAt === 0 && event.ts - s.lastSeen > cfg.windowSeconds * 1000) reset(s, event);
    const cats = classifyPath(event.request.path, event.request.queryKeys);
    s.probes++;
    s.lastSeen = Math.max(s.lastSeen, event.ts);
    for (const c of cats) if (!s.categories.includes(c)) s.categories.push(c);
    if (s.paths.add(hash32(event.request.path)) && s.samplePaths.length < 5) {
      s.samplePaths.push(
        event.request.path.length > 160 ? `${event.request.path.slice(0, 160)}…` : event.request.path,
      );
    }
    if (s.samples.length < 10) s.samples.push(event.id);
    const st = event.response.status;
    if (st >= 200 && st < 300) s.statuses.ok++;
    else if (st >= 500) s.statuses.serverError++;
    else if (st >= 400) s.statuses.clientError++;
    ctx.wakeAt(s.lastSeen + cfg.quietSeconds * 1000);
    s.observed = Math.max(s.observed, s.paths.count);
    if (s.raisedAt > 0 || s.paths.count < cfg.minProbes) return undefined;
    s.raisedAt = event.ts;
    return [draft(s, key, cfg, 'firing')];
  },
  onWatermark(s, ts, ctx, key) {
    if (s.raisedAt === 0 || ts - s.lastSeen < ctx.config.quietSeconds * 1000) return undefined;
    const out = [draft(s, key, ctx.config, 'resolved')];
    s.raisedAt = 0;
    s.paths.clear();
    return out;
  },
  idleMs: (c) => (c.windowSeconds + c.quietSeconds) * 1000,
  sizeOf: (s) =>
    160 +
    s.paths.bytes +
    s.samplePaths.reduce((n, p) => n + 16 + p.length * 2, 0) +
    s.samples.length * 40 +
    (s.userAgent?.length ?? 0) * 2,
});

function reset(s: ProbeState, event: ApiEvent): void {
  s.paths.clear();
  s.probes = 0;
  s.categories = [];
  s.samplePaths = [];
  s.samples = [];
  s.statuses = { ok: 0, clientError: 0, serverError: 0 };
  s.firstSeen = event.ts;
  s.lastSeen = event.ts;
  s.observed = 0;
  s.userAgent = event.client.userAgent;
}

function draft(
  s: ProbeState,
  key: string,
  cfg: InjectionProbeConfig,
  status: 'firing' | 'resolved',
): FindingDraft {
  const entity = actorFindingEntity(key, null);
  if (entity.kind !== 'ip') {
    entity.name = s.name ?? entity.name;
    entity.ref = s.ref;
  }
  const answered = s.statuses.ok + s.statuses.serverError;
  const until = status === 'resolved' ? s.lastSeen : s.raisedAt;
  const summary =
    `${entity.kind} ${entity.id} sent ${s.observed} distinct ${s.categories.join('/')} probe paths in ${formatSpan((until - s.firstSeen) / 1000)}` +
    `${s.host ? ` to ${s.host}` : ''} (e.g. ${s.samplePaths[0] ?? ''}); ${s.statuses.ok} answered 2xx, ${s.statuses.serverError} 5xx.` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.lastSeen } : {}),
    entity,
    route: null,
    method: null,
    tenant: s.tenant,
    severity: answered > 0 ? 'high' : 'medium',
    confidence: Math.min(0.95, 0.6 + 0.1 * s.categories.length + 0.02 * s.observed),
    summary,
    firstSeen: s.firstSeen,
    lastSeen: status === 'resolved' ? s.lastSeen : s.raisedAt,
    evidence: {
      observed: s.observed,
      baseline: null,
      threshold: cfg.minProbes,
      windowSeconds: cfg.windowSeconds,
      counts: {
        probes: s.probes,
        distinctPaths: s.observed,
        ok2xx: s.statuses.ok,
        clientError4xx: s.statuses.clientError,
        serverError5xx: s.statuses.serverError,
      },
      sampleEventIds: s.samples.slice(0, 10),
      details: { categories: s.categories, samplePaths: s.samplePaths, userAgent: s.userAgent, host: s.host },
    },
    recommendedAction: `Block ${entity.id} at the WAF or gateway; check the ${answered} probes answered 2xx/5xx for a real injection (server logs at those times), and validate path parameters against the spec.`,
  };
}
