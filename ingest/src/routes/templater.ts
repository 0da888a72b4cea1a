import type { ApiEvent, ObjectRefValue } from '@apiwatch/core';
import { annotate } from './conformance.ts';
import { createRouteInferrer, type InferOptions, type RouteInferrer, statusTeaches } from './infer.ts';
import {
  createRouteMatcher,
  type LoadedSpec,
  loadSpecFiles,
  type MatcherOptions,
  queryIdParams,
  type RouteMatcher,
  type SpecMatch,
} from './openapi.ts';
import { idShape, isSecretName, looksLikeIdName, looksLikeTenantName, pathSegments } from './segments.ts';

/**
 * The route stage that runs after parsing (docs/routes.md): a template the parser already had
 * (AWS `resourcePath`, OTel `http.route`) is kept; otherwise the OpenAPI specs are matched first
 * and inference from traffic second. It sets `event.request.route` and `event.objects`.
 *
 * With specs loaded it also sets `event.spec` (conformance.ts): documented / undocumented_method /
 * shadow, the operation, deprecation, required security and the violation codes — or null when no
 * spec covers the call's host and base path. Without specs `event.spec` is left absent.
 * Where the route came from is returned, not stored: `unmatched` (no spec matched and nothing
 * was inferred) leaves `route: null`.
 */
export type RouteSource = 'parser' | 'spec' | 'inferred' | 'unmatched';

export interface RouteResult {
  source: RouteSource;
  /** Specs are loaded and one of them has this path (whatever the method). */
  specMatched: boolean;
  /** Specs matched the path but document no operation for this method. */
  undocumentedMethod: boolean;
  operationId: string | null;
}

export interface RouteCounters {
  parser: number;
  spec: number;
  inferred: number;
  unmatched: number;
  /** Spec paths called with a method the spec does not document. */
  undocumentedMethod: number;
  /** Calls under a spec's host and base path that match no documented path. */
  shadow: number;
  /** Calls to a deprecated operation or a retired API version. */
  deprecated: number;
  /** Calls with at least one spec violation (parameters or status). */
  violating: number;
}

export interface RouteTemplaterOptions {
  specs?: readonly LoadedSpec[];
  matcher?: MatcherOptions;
  /** Infer templates for paths no spec matches; true uses the defaults. Default true. */
  infer?: boolean | InferOptions;
}

/** Raw material the event does not keep: the query string, to read id-valued query parameters. */
export interface RawRequest {
  /** The query string (without `?`), when the caller has it. */
  query?: string | null;
  /** The raw record; the query is looked up after the event's path in it when `query` is absent. */
  recordText?: string | null;
}

export interface RouteTemplater {
  applyRoutes(event: ApiEvent, raw?: RawRequest): RouteResult;
  readonly counters: Readonly<RouteCounters>;
  readonly matcher: RouteMatcher | null;
  readonly inferrer: RouteInferrer | null;
  /**
   * Replaces the specs (all of them: files and uploads) with a matcher built from `specs`; the
   * next event uses it. Inference and the counters carry on (what traffic taught stays learnt).
   */
  setSpecs(specs: readonly LoadedSpec[]): void;
}

const MAX_OBJECTS = 32;

export function createRouteTemplater(options: RouteTemplaterOptions = {}): RouteTemplater {
  const build = (specs: readonly LoadedSpec[]) =>
    specs.length > 0 ? createRouteMatcher(specs, options.matcher) : null;
  let matcher = build(options.specs ?? []);
  const inferOpt = options.infer ?? true;
  const inferrer = inferOpt === false ? null : createRouteInferrer(inferOpt === true ? {} : inferOpt);
  const counters: RouteCounters = {
    parser: 0,
    spec: 0,
    inferred: 0,
    unmatched: 0,
    undocumentedMethod: 0,
    shadow: 0,
    deprecated: 0,
    violating: 0,
  };
  const setSpec = (event: ApiEvent, m: SpecMatch | null, query: () => Map<string, string> | null) => {
    if (!matcher) return;
    const spec = annotate({ event, matcher, match: m, query });
    event.spec = spec;
    if (!spec) return;
    if (spec.status === 'shadow') counters.shadow++;
    if (spec.deprecated) counters.deprecated++;
    if (spec.violations.length > 0 && spec.status === 'documented') counters.violating++;
  };

  return {
    counters,
    get matcher() {
      return matcher;
    },
    inferrer,
    setSpecs(specs) {
      matcher = build(specs);
    },
    applyRoutes(event: ApiEvent, raw: RawRequest = {}): RouteResult {
      const req = event.request;
      const given = parserTemplate(req.route, req.path);
      const objects: ObjectRefValue[] = [...event.objects];
      const query = lazyQuery(raw, req.path, req.queryKeys);

      const m = matcher?.match(req.method, req.path, req.host) ?? null;
      setSpec(event, m, query);

      if (given) {
        req.route = given;
        addObjects(objects, alignTemplate(given, req.path), 'path');
        addQueryIds(objects, req.queryKeys, m?.methodDocumented ? queryIdParams(m.operation) : [], query);
        event.objects = objects;
        counters.parser++;
        return {
          source: 'parser',
          specMatched: m != null,
          undocumentedMethod: m != null && !m.methodDocumented,
          operationId: m?.methodDocumented ? m.operation.operationId : null,
        };
      }

      if (m) {
        req.route = m.route;
        addObjects(objects, m.pathParams, 'path');
        addQueryIds(objects, req.queryKeys, queryIdParams(m.operation), query);
        event.objects = objects;
        counters.spec++;
        if (!m.methodDocumented) counters.undocumentedMethod++;
        return {
          source: 'spec',
          specMatched: true,
          undocumentedMethod: !m.methodDocumented,
          operationId: m.methodDocumented ? m.operation.operationId : null,
        };
      }

      if (inferrer) {
        const inferred = inferrer.infer(req.path, statusTeaches(event.response.status));
        req.route = inferred.route;
        addObjects(objects, inferred.params, 'path');
        addQueryIds(objects, req.queryKeys, [], query);
        event.objects = objects;
        counters.inferred++;
        return { source: 'inferred', specMatched: false, undocumentedMethod: false, operationId: null };
      }

      req.route = req.route && req.route === req.path ? req.route : null;
      addQueryIds(objects, req.queryKeys, [], query);
      event.objects = objects;
      counters.unmatched++;
      return { source: 'unmatched', specMatched: false, undocumentedMethod: false, operationId: null };
    },
  };
}

/** Start-up: reads the spec files (a bad file stops start-up, naming it) and builds the stage. */
export function loadRouteTemplater(config: {
  specs: readonly string[];
  inferRoutes: boolean;
  matcher?: MatcherOptions;
}): RouteTemplater {
  return createRouteTemplater({
    specs: loadSpecFiles(config.specs),
    infer: config.inferRoutes,
    matcher: config.matcher,
  });
}

/**
 * A template the parser supplied, normalised to `{param}` form (`:userId` → `{userId}`), or
 * null when what it supplied is not a template: AWS `$default`, a Kong prefix that is not the
 * path, an Envoy route name.
 */
export function parserTemplate(route: string | null, path: string): string | null {
  if (!route) return null;
  let r = route.trim();
  const space = r.indexOf(' ');
  if (space > 0 && /^[A-Z]+$/.test(r.slice(0, space))) r = r.slice(space + 1).trim(); // `GET /pets/{id}` (AWS routeKey)
  if (!r.startsWith('/')) return null;
  r = r.replace(/\/:([A-Za-z_][A-Za-z0-9_]*)/g, '/{$1}');
  if (r.includes('{')) return r;
  // No parameters: a real template only if it is the path itself (a static route).
  return trimTrailing(r) === trimTrailing(path) ? r : null;
}

const trimTrailing = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);

/** Parameter values of a parser template, aligned with the path from the right (stage prefixes sit left). */
function alignTemplate(template: string, path: string): Array<{ name: string; value: string }> {
  const t = pathSegments(template, false);
  const p = pathSegments(path);
  if (p.length < t.length) return [];
  const offset = p.length - t.length;
  const out: Array<{ name: string; value: string }> = [];
  t.forEach((seg, i) => {
    const m = /^\{([^{}]+?)\+?\}$/.exec(seg);
    const value = p[i + offset];
    if (m && value) out.push({ name: m[1]!, value });
  });
  return out;
}

function addObjects(
  objects: ObjectRefValue[],
  params: ReadonlyArray<{ name: string; value: string }>,
  where: 'path' | 'query',
): void {
  for (const { name, value } of params) {
    if (objects.length >= MAX_OBJECTS) return;
    if (!value || isSecretName(name)) continue;
    if (objects.some((o) => o.name === name && o.in === where)) continue;
    objects.push({ name: name.slice(0, 128), value: value.slice(0, 512), in: where });
  }
}

/**
 * Query parameters that carry object ids: those the spec marks as ids, and any other whose
 * name reads as an id (`user_id`, `reportId`) and whose value has an id shape. Secret-looking
 * names (`api_key`, `access_token`, `sig`, `session_id`) are never read.
 */
function addQueryIds(
  objects: ObjectRefValue[],
  keys: readonly string[],
  specIds: readonly string[],
  query: () => Map<string, string> | null,
): void {
  const wanted = keys.filter(
    (k) => !isSecretName(k) && (specIds.includes(k) || looksLikeIdName(k) || looksLikeTenantName(k)),
  );
  if (wanted.length === 0) return;
  const values = query();
  if (!values) return;
  const found: Array<{ name: string; value: string }> = [];
  for (const k of wanted) {
    const v = values.get(k);
    if (v && (specIds.includes(k) || looksLikeTenantName(k) || idShape(v) !== null))
      found.push({ name: k, value: v });
  }
  addObjects(objects, found, 'query');
}

function lazyQuery(raw: RawRequest, path: string, keys: readonly string[]): () => Map<string, string> | null {
  let parsed: Map<string, string> | null | undefined;
  return () => {
    if (parsed !== undefined) return parsed;
    const text =
      raw.query ?? (keys.length > 0 && raw.recordText ? queryFromRecord(raw.recordText, path) : null);
    parsed = text ? parseQuery(text) : null;
    return parsed;
  };
}

/** The query string that follows the event's path in a raw log record (`"GET /x?a=1 HTTP/1.1"`, `"uri":"/x?a=1"`). */
export function queryFromRecord(text: string, path: string): string | null {
  const at = text.indexOf(`${path}?`);
  if (at < 0) return null;
  const rest = text.slice(at + path.length + 1);
  const end = rest.search(/[\s"'<>\\]/);
  return end < 0 ? rest : rest.slice(0, end);
}

function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = decode(pair.slice(0, eq));
    if (!out.has(key)) out.set(key, decode(pair.slice(eq + 1)));
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}
