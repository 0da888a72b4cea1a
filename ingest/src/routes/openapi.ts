import { readFileSync } from 'node:fs';
import { StartupError } from '@apiwatch/core';
import { parse as parseYaml } from 'yaml';
import { isSecretName, looksLikeIdName, pathSegments } from './segments.ts';

/**
 * OpenAPI 3.0/3.1 and Swagger 2.0 → a route matcher: (method, host?, path) → the spec's path
 * template and the values of its parameters (docs/routes.md). Specs are read once at start-up;
 * matching is a walk down a trie of path segments where literal segments beat mixed ones
 * (`{Sid}.json`) which beat bare parameters, with backtracking.
 */

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** A declared parameter of an operation, as far as route matching, object ids and validation care. */
export interface SpecParam {
  name: string;
  in: 'path' | 'query';
  /** The spec marks it as an identifier (uuid format, an id-like name, or a pattern/format on an id). */
  isId: boolean;
  /** `required: true` (path parameters always are). */
  required: boolean;
  /** The value constraints the route stage checks (conformance.ts); null when none apply. */
  schema: ParamSchema | null;
}

/** The subset of a parameter's JSON Schema that can be checked on one string value. */
export interface ParamSchema {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array' | null;
  format: string | null;
  enum: readonly string[] | null;
  pattern: RegExp | null;
  minimum: number | null;
  maximum: number | null;
  exclusiveMinimum: boolean;
  exclusiveMaximum: boolean;
  minLength: number | null;
  maxLength: number | null;
  /** For `type: array` (query `form` style, comma-separated). */
  items: ParamSchema | null;
}

/** What the operation's `security` requires (operation level, else the document's). */
export interface SpecSecurity {
  /** At least one security alternative, and none of them empty (`{}`). */
  required: boolean;
  /** OAuth2/OIDC scopes of the least demanding alternative; [] when some alternative needs none. */
  scopes: readonly string[];
}

/** One operation: the spec's path key (the route template) and its parameters. */
export interface SpecOperation {
  method: string;
  route: string;
  operationId: string | null;
  params: readonly SpecParam[];
  /** `deprecated: true` on the operation, or an old API version (see `markOldVersions`). */
  deprecated: boolean;
  /** A newer version of this operation exists (`/v2/x` beside `/v3/x`): deprecated for that reason. */
  oldVersion: boolean;
  /** Origin (file) of the spec. */
  spec: string;
  /** `title@version` of the spec, the SpecAnnotation's specId. */
  specId: string;
  security: SpecSecurity;
  /** Documented response codes: `200`, ranges `2XX`, `default`; empty when the spec lists none. */
  responses: readonly string[];
  /** Query parameter names security schemes take credentials from (`apiKey` in query): never unknown. */
  credentialQueryParams: readonly string[];
}

/** A spec reduced to what matching needs. */
export interface LoadedSpec {
  /** The file (or a name) the spec came from. */
  origin: string;
  title: string | null;
  /** `info.version`. */
  version: string | null;
  /** Path prefixes from `servers[].url` or Swagger `basePath` ('' for none), without a trailing slash. */
  basePaths: readonly string[];
  /** Host names from `servers[].url` or Swagger `host`; empty when the spec names none. */
  hosts: readonly string[];
  operations: readonly SpecOperation[];
}

export interface PathParamValue {
  name: string;
  value: string;
}

export interface SpecMatch {
  route: string;
  operation: SpecOperation;
  /** False when the path is in the spec but this method is not (an undocumented method). */
  methodDocumented: boolean;
  pathParams: PathParamValue[];
  /** The base path or stage prefix that was stripped to match, '' for none. */
  strippedPrefix: string;
}

export interface MatcherOptions {
  /** First path segments that are deployment stages (AWS API Gateway `/prod/...`). Default none. */
  stagePrefixes?: readonly string[];
  /**
   * When a path does not match, retry without its first segment if that segment is not a
   * literal the specs know: catches stage prefixes nobody listed. Default true.
   */
  detectStagePrefix?: boolean;
  /** Extensions stripped from the last segment when the path does not match as is. Default json, xml, csv, yaml. */
  formatSuffixes?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Reads one spec file (JSON or YAML); a bad file is a start-up error naming the file. */
export function loadSpecFile(file: string): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new StartupError(
      'CONFIG_FILE_UNREADABLE',
      `cannot read OpenAPI spec ${file}: ${(e as Error).message}`,
    );
  }
  return parseSpecText(text, file);
}

export function parseSpecText(text: string, origin: string): LoadedSpec {
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 1000 });
  } catch (e) {
    throw new StartupError(
      'CONFIG_FILE_UNREADABLE',
      `${origin}: not valid JSON or YAML: ${(e as Error).message}`,
    );
  }
  return specFromDocument(doc, origin);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function specFromDocument(doc: unknown, origin: string): LoadedSpec {
  if (!isObj(doc))
    throw new StartupError('CONFIG_INVALID', `${origin}: an OpenAPI document must be a mapping`);
  const version =
    typeof doc.openapi === 'string' ? doc.openapi : typeof doc.swagger === 'string' ? doc.swagger : null;
  if (!version || !/^(2\.0|3\.[01])(\.|$)/.test(version)) {
    throw new StartupError(
      'CONFIG_INVALID',
      `${origin}: not an OpenAPI 3.0/3.1 or Swagger 2.0 document (openapi/swagger: ${String(version)})`,
    );
  }
  if (!isObj(doc.paths)) throw new StartupError('CONFIG_INVALID', `${origin}: the document has no paths`);
  const swagger2 = version.startsWith('2.');
  const { basePaths, hosts } = swagger2 ? swaggerServers(doc) : openapiServers(doc.servers);
  const info = isObj(doc.info) ? doc.info : {};
  const title = typeof info.title === 'string' ? info.title : null;
  const specVersion = typeof info.version === 'string' ? info.version : null;
  const specId = `${title ?? origin}@${specVersion ?? ''}`.slice(0, 256);
  const schemes = securitySchemes(doc, swagger2);
  const credentialQueryParams = [...schemes.values()].flatMap((s) => (s.queryParam ? [s.queryParam] : []));
  const operations: SpecOperation[] = [];
  for (const [route, item] of Object.entries(doc.paths)) {
    if (!route.startsWith('/') || !isObj(item)) continue;
    const pathItem = resolveRef(doc, item);
    const shared = paramList(doc, pathItem.parameters, swagger2);
    for (const method of METHODS) {
      const op = pathItem[method];
      if (!isObj(op)) continue;
      const own = paramList(doc, op.parameters, swagger2);
      // Operation parameters override path-item ones with the same name and location.
      const merged = [...own, ...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in))];
      operations.push({
        method: method.toUpperCase(),
        route,
        operationId: typeof op.operationId === 'string' ? op.operationId : null,
        params: merged,
        deprecated: op.deprecated === true,
        oldVersion: false,
        spec: origin,
        specId,
        security: securityOf(op.security !== undefined ? op.security : doc.security, schemes),
        responses: isObj(op.responses) ? Object.keys(op.responses).map((k) => k.toUpperCase()) : [],
        credentialQueryParams,
      });
    }
  }
  return { origin, title, version: specVersion, basePaths, hosts, operations };
}

interface SchemeInfo {
  /** oauth2 / openIdConnect: scopes mean something. */
  scoped: boolean;
  /** apiKey in query: the parameter carrying the key. */
  queryParam: string | null;
}

function securitySchemes(doc: Obj, swagger2: boolean): Map<string, SchemeInfo> {
  const out = new Map<string, SchemeInfo>();
  const defs = swagger2
    ? doc.securityDefinitions
    : isObj(doc.components)
      ? doc.components.securitySchemes
      : undefined;
  if (!isObj(defs)) return out;
  for (const [name, raw] of Object.entries(defs)) {
    if (!isObj(raw)) continue;
    const s = resolveRef(doc, raw);
    out.set(name, {
      scoped: s.type === 'oauth2' || s.type === 'openIdConnect',
      queryParam: s.type === 'apiKey' && s.in === 'query' && typeof s.name === 'string' ? s.name : null,
    });
  }
  return out;
}

/**
 * `security` is a list of alternatives (OR), each a map of schemes (AND) to scopes. An empty
 * list or an empty alternative (`{}`) makes the operation callable without credentials.
 */
function securityOf(security: unknown, schemes: ReadonlyMap<string, SchemeInfo>): SpecSecurity {
  if (!Array.isArray(security) || security.length === 0) return { required: false, scopes: [] };
  const alternatives = security.filter(isObj);
  if (alternatives.length === 0 || alternatives.some((a) => Object.keys(a).length === 0))
    return { required: false, scopes: [] };
  let best: string[] | null = null;
  for (const alt of alternatives) {
    const scopes = new Set<string>();
    for (const [name, list] of Object.entries(alt)) {
      if (!schemes.get(name)?.scoped || !Array.isArray(list)) continue;
      for (const sc of list) if (typeof sc === 'string' && sc) scopes.add(sc.slice(0, 256));
    }
    const sorted = [...scopes].sort();
    if (best === null || sorted.length < best.length) best = sorted;
  }
  return { required: true, scopes: (best ?? []).slice(0, 32) };
}

function openapiServers(servers: unknown): { basePaths: string[]; hosts: string[] } {
  const basePaths = new Set<string>();
  const hosts = new Set<string>();
  for (const s of Array.isArray(servers) ? servers : []) {
    if (!isObj(s) || typeof s.url !== 'string') continue;
    // Server variables: substitute their defaults (`https://{region}.example.com/{basePath}`).
    const vars = isObj(s.variables) ? s.variables : {};
    const url = s.url.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const v = vars[name];
      return isObj(v) && typeof v.default === 'string' ? v.default : '';
    });
    const { host, path } = splitServerUrl(url);
    if (host) hosts.add(host);
    basePaths.add(trimSlash(path));
  }
  if (basePaths.size === 0) basePaths.add('');
  return { basePaths: [...basePaths], hosts: [...hosts] };
}

function swaggerServers(doc: Obj): { basePaths: string[]; hosts: string[] } {
  const base = typeof doc.basePath === 'string' ? trimSlash(doc.basePath) : '';
  const host = typeof doc.host === 'string' ? doc.host.toLowerCase().replace(/:\d+$/, '') : null;
  return { basePaths: [base], hosts: host ? [host] : [] };
}

function splitServerUrl(url: string): { host: string | null; path: string } {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)/i.exec(url);
  if (m)
    return {
      host:
        m[1]!
          .toLowerCase()
          .replace(/^[^@]*@/, '')
          .replace(/:\d+$/, '') || null,
      path: m[2] ?? '',
    };
  // A relative server URL (`/b2b/v2`) is a base path on whatever host serves the spec.
  return { host: null, path: url.split(/[?#]/)[0] ?? '' };
}

function trimSlash(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p === '' || p.startsWith('/') ? p : `/${p}`;
}

/** Follows a local `$ref` (`#/components/parameters/X`); remote refs are left unresolved. */
function resolveRef(doc: Obj, value: Obj, depth = 0): Obj {
  if (typeof value.$ref !== 'string' || depth > 8) return value;
  const ref = value.$ref;
  if (!ref.startsWith('#/')) return value;
  let target: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    target = isObj(target) ? target[part] : undefined;
  }
  return isObj(target) ? resolveRef(doc, target, depth + 1) : value;
}

function paramList(doc: Obj, params: unknown, swagger2: boolean): SpecParam[] {
  const out: SpecParam[] = [];
  for (const p of Array.isArray(params) ? params : []) {
    if (!isObj(p)) continue;
    const param = resolveRef(doc, p);
    if (typeof param.name !== 'string' || (param.in !== 'path' && param.in !== 'query')) continue;
    const schema = swagger2 ? param : isObj(param.schema) ? resolveRef(doc, param.schema) : {};
    out.push({
      name: param.name,
      in: param.in,
      isId: specSaysId(param.name, schema),
      required: param.in === 'path' || param.required === true,
      schema: compileParamSchema(doc, schema),
    });
  }
  return out;
}

/**
 * The checkable part of a parameter schema. Compositions (`oneOf`, `anyOf`, `allOf`, `not`) and
 * objects are not checked (null): a value the route stage cannot judge is never a violation.
 */
function compileParamSchema(doc: Obj, raw: Obj, depth = 0): ParamSchema | null {
  const schema = resolveRef(doc, raw);
  if (depth > 4 || 'oneOf' in schema || 'anyOf' in schema || 'allOf' in schema || 'not' in schema)
    return null;
  let type: unknown = schema.type;
  // OpenAPI 3.1: `type: [integer, 'null']`.
  if (Array.isArray(type)) {
    const real = type.filter((t) => t !== 'null');
    type = real.length === 1 ? real[0] : null;
  }
  if (type === 'object') return null;
  const known = ['string', 'integer', 'number', 'boolean', 'array'] as const;
  const t = known.find((k) => k === type) ?? null;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  let pattern: RegExp | null = null;
  if (typeof schema.pattern === 'string') {
    try {
      pattern = new RegExp(schema.pattern, 'u');
    } catch {
      pattern = null; // a pattern JavaScript cannot compile is not checked
    }
  }
  // 3.1 (JSON Schema 2020-12) has numeric exclusive bounds; 3.0 has booleans beside minimum/maximum.
  let minimum = n(schema.minimum);
  let maximum = n(schema.maximum);
  let exclusiveMinimum = schema.exclusiveMinimum === true;
  let exclusiveMaximum = schema.exclusiveMaximum === true;
  if (n(schema.exclusiveMinimum) !== null) {
    minimum = n(schema.exclusiveMinimum);
    exclusiveMinimum = true;
  }
  if (n(schema.exclusiveMaximum) !== null) {
    maximum = n(schema.exclusiveMaximum);
    exclusiveMaximum = true;
  }
  const compiled: ParamSchema = {
    type: t,
    format: typeof schema.format === 'string' ? schema.format : null,
    enum: Array.isArray(schema.enum)
      ? schema.enum.filter((v) => v !== null && typeof v !== 'object').map((v) => String(v))
      : null,
    pattern,
    minimum,
    maximum,
    exclusiveMinimum,
    exclusiveMaximum,
    minLength: n(schema.minLength),
    maxLength: n(schema.maxLength),
    items: t === 'array' && isObj(schema.items) ? compileParamSchema(doc, schema.items, depth + 1) : null,
  };
  const checks =
    (compiled.type !== null && compiled.type !== 'string') ||
    compiled.format !== null ||
    (compiled.enum !== null && compiled.enum.length > 0) ||
    compiled.pattern !== null ||
    compiled.minimum !== null ||
    compiled.maximum !== null ||
    compiled.minLength !== null ||
    compiled.maxLength !== null;
  return checks ? compiled : null;
}

function specSaysId(name: string, schema: Obj): boolean {
  if (isSecretName(name)) return false;
  if (schema.format === 'uuid' || schema['x-id'] === true) return true;
  return looksLikeIdName(name);
}

// ---------------------------------------------------------------------------------------------
// The trie

/** A segment of a template: a literal, a bare `{param}`, or a mix (`{Sid}.json`, `v{major}`). */
type SegmentPattern =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string }
  | { kind: 'mixed'; key: string; regex: RegExp; names: string[]; literalLength: number };

interface Terminal {
  /** Operations by method at this node, one per spec route (first spec wins on duplicates). */
  byMethod: Map<string, SpecOperation>;
  route: string;
  /** For each segment position, the parameter names it binds (empty for literals). */
  bindings: SegmentPattern[];
}

interface TrieNode {
  literal: Map<string, TrieNode>;
  mixed: Array<{ pattern: Extract<SegmentPattern, { kind: 'mixed' }>; node: TrieNode }>;
  param: TrieNode | null;
  terminals: Terminal[];
}

const newNode = (): TrieNode => ({ literal: new Map(), mixed: [], param: null, terminals: [] });

function compileSegment(segment: string): SegmentPattern {
  if (!segment.includes('{')) return { kind: 'literal', text: safeDecode(segment) };
  const whole = /^\{([^{}]+)\}$/.exec(segment);
  if (whole) return { kind: 'param', name: whole[1]! };
  const names: string[] = [];
  let source = '^';
  let literalLength = 0;
  for (const part of segment.split(/(\{[^{}]+\})/)) {
    if (!part) continue;
    const m = /^\{([^{}]+)\}$/.exec(part);
    if (m) {
      names.push(m[1]!);
      source += '(.+?)';
    } else {
      const lit = safeDecode(part);
      literalLength += lit.length;
      source += lit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return { kind: 'mixed', key: segment, regex: new RegExp(`${source}$`), names, literalLength };
}

function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface RouteMatcher {
  match(method: string, path: string, host?: string | null): SpecMatch | null;
  /**
   * For a path no spec matches that carries an API version segment (`/v1/`, `/2008-08-01/`):
   * the documented operation it would be under a newer version the specs know, or null. A call
   * to `/api/v1/users` when only `/api/v2/users` is documented is a call to a retired version.
   */
  matchRetiredVersion(method: string, path: string, host?: string | null): SpecMatch | null;
  /** Whether a (method, template) pair is an operation in some spec: for inventory diffs. */
  hasOperation(method: string, route: string): boolean;
  readonly specs: readonly LoadedSpec[];
  readonly operationCount: number;
}

interface SpecTrie {
  spec: LoadedSpec;
  root: TrieNode;
  /** Literal first segments of all templates (with and without base paths): not stage prefixes. */
  rootLiterals: Set<string>;
}

export function createRouteMatcher(
  loaded: readonly LoadedSpec[],
  options: MatcherOptions = {},
): RouteMatcher {
  const specs = markOldVersions(loaded);
  const versionLiterals = knownVersions(specs);
  const stagePrefixes = new Set(options.stagePrefixes ?? []);
  const detectStage = options.detectStagePrefix ?? true;
  const suffixes = (options.formatSuffixes ?? ['json', 'xml', 'csv', 'yaml']).map((s) => `.${s}`);
  const tries: SpecTrie[] = specs.map(buildTrie);
  const operations = new Set<string>();
  for (const s of specs) for (const op of s.operations) operations.add(`${op.method} ${op.route}`);

  const matchIn = (t: SpecTrie, method: string, segments: string[]): SpecMatch | null => {
    let fallback: SpecMatch | null = null;
    const found = walk(t.root, segments, 0, (terminal) => {
      const op =
        terminal.byMethod.get(method) ?? (method === 'HEAD' ? terminal.byMethod.get('GET') : undefined);
      if (op)
        return {
          route: terminal.route,
          operation: op,
          methodDocumented: true,
          pathParams: bind(terminal, segments),
          strippedPrefix: '',
        };
      if (!fallback) {
        const any = terminal.byMethod.values().next().value as SpecOperation;
        fallback = {
          route: terminal.route,
          operation: any,
          methodDocumented: false,
          pathParams: bind(terminal, segments),
          strippedPrefix: '',
        };
      }
      return null;
    });
    return found ?? fallback;
  };

  const matchSegments = (method: string, segments: string[], host: string | null): SpecMatch | null => {
    // Specs that name this host first; a spec with no host serves any.
    const ordered = host ? [...tries].sort((a, b) => hostRank(b.spec, host) - hostRank(a.spec, host)) : tries;
    let fallback: SpecMatch | null = null;
    for (const t of ordered) {
      const m = matchIn(t, method, segments);
      if (m?.methodDocumented) return m;
      fallback ??= m;
    }
    return fallback;
  };

  const matchWithRetries = (method: string, segments: string[], host: string | null): SpecMatch | null => {
    const direct = matchSegments(method, segments, host);
    if (direct) return direct;
    const first = segments[0];
    if (first !== undefined && segments.length > 1) {
      const listed = stagePrefixes.has(first);
      if (listed || (detectStage && !tries.some((t) => t.rootLiterals.has(first)))) {
        const m = matchSegments(method, segments.slice(1), host);
        if (m) return { ...m, strippedPrefix: `/${first}` };
      }
    }
    return null;
  };

  return {
    specs,
    operationCount: operations.size,
    hasOperation: (method, route) => operations.has(`${method.toUpperCase()} ${route}`),
    match(method, path, host = null) {
      if (tries.length === 0) return null;
      const m = method.toUpperCase();
      const segments = pathSegments(path);
      const h = host ? host.toLowerCase().replace(/:\d+$/, '') : null;
      const direct = matchWithRetries(m, segments, h);
      if (direct) return direct;
      // `/pets/42.json` against `/pets/{petId}`: retry with the format suffix removed.
      const last = segments[segments.length - 1];
      const suffix = last ? suffixes.find((s) => last.endsWith(s) && last.length > s.length) : undefined;
      if (last && suffix) {
        return matchWithRetries(m, [...segments.slice(0, -1), last.slice(0, -suffix.length)], h);
      }
      return null;
    },
    matchRetiredVersion(method, path, host = null) {
      if (versionLiterals.length === 0) return null;
      const segments = pathSegments(path);
      const at = segments.findIndex((s) => versionOf(s) !== null);
      if (at < 0) return null;
      const mine = versionOf(segments[at]!)!;
      const m = method.toUpperCase();
      const h = host ? host.toLowerCase().replace(/:\d+$/, '') : null;
      // Newest first: the version a client should have moved to.
      for (const literal of versionLiterals) {
        const theirs = versionOf(literal)!;
        if (theirs.style !== mine.style || compareVersions(theirs.parts, mine.parts) <= 0) continue;
        const tried = [...segments];
        tried[at] = literal;
        const found = matchWithRetries(m, tried, h);
        if (found?.methodDocumented) return found;
      }
      return null;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// API versions

interface ApiVersion {
  /** `v` (`v2`, `V2.7`) or `date` (`2010-04-01`). */
  style: 'v' | 'date';
  parts: number[];
}

/** A path segment that names an API version: `v1`, `v2.7`, `V3`, `2010-04-01`. */
export function versionOf(segment: string): ApiVersion | null {
  const v = /^[vV](\d{1,4})(?:\.(\d{1,4}))?$/.exec(segment);
  if (v) return { style: 'v', parts: [Number(v[1]), Number(v[2] ?? 0)] };
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(segment);
  if (d) return { style: 'date', parts: [Number(d[1]), Number(d[2]), Number(d[3])] };
  return null;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The full path of an operation under its spec's first base path, as segments. */
function fullSegments(spec: LoadedSpec, op: SpecOperation): string[] {
  return pathSegments(`${spec.basePaths[0] ?? ''}${op.route}`, false);
}

/**
 * An operation is an old version when the same method and path exist with a newer version in
 * the same version position (across every loaded spec, base paths included): crAPI's
 * `POST /identity/api/auth/v2/check-otp` beside `.../v3/check-otp`. An API whose only version is
 * v2 is not old, however many v2 paths it has: only a newer sibling of the same operation counts.
 */
function markOldVersions(specs: readonly LoadedSpec[]): LoadedSpec[] {
  const newest = new Map<string, number[]>();
  const keyed = specs.map((spec) =>
    spec.operations.map((op) => {
      const segs = fullSegments(spec, op);
      const at = segs.findIndex((s) => versionOf(s) !== null);
      if (at < 0) return null;
      const version = versionOf(segs[at]!)!;
      const norm = [...segs];
      norm[at] = `{${version.style}}`;
      const key = `${op.method} ${at} /${norm.join('/')}`;
      const best = newest.get(key);
      if (!best || compareVersions(version.parts, best) > 0) newest.set(key, version.parts);
      return { key, parts: version.parts };
    }),
  );
  return specs.map((spec, i) => ({
    ...spec,
    operations: spec.operations.map((op, j) => {
      const k = keyed[i]![j];
      const old = k != null && compareVersions(k.parts, newest.get(k.key)!) < 0;
      return old ? { ...op, oldVersion: true, deprecated: true } : op;
    }),
  }));
}

/** Version segment literals that appear in the specs' full paths, newest first. */
function knownVersions(specs: readonly LoadedSpec[]): string[] {
  const seen = new Set<string>();
  for (const spec of specs)
    for (const op of spec.operations) for (const s of fullSegments(spec, op)) if (versionOf(s)) seen.add(s);
  return [...seen].sort((a, b) => compareVersions(versionOf(b)!.parts, versionOf(a)!.parts));
}

function hostRank(spec: LoadedSpec, host: string): number {
  if (spec.hosts.length === 0) return 1;
  return spec.hosts.includes(host) ? 2 : 0;
}

function buildTrie(spec: LoadedSpec): SpecTrie {
  const root = newNode();
  const rootLiterals = new Set<string>();
  const terminalsByKey = new Map<string, Terminal>();
  for (const op of spec.operations) {
    const templateSegments = pathSegments(op.route, false).map(compileSegment);
    // Insert under every base path and bare: gateways log the path with or without the base.
    const prefixes = new Set([...spec.basePaths, '']);
    for (const base of prefixes) {
      const baseSegments: SegmentPattern[] = pathSegments(base).map((text) => ({ kind: 'literal', text }));
      const all = [...baseSegments, ...templateSegments];
      const first = all[0];
      if (first?.kind === 'literal') rootLiterals.add(first.text);
      const key = `${base}\u0000${op.route}`;
      let terminal = terminalsByKey.get(key);
      if (!terminal) {
        terminal = { byMethod: new Map(), route: op.route, bindings: all };
        terminalsByKey.set(key, terminal);
        insert(root, all, 0).terminals.push(terminal);
      }
      if (!terminal.byMethod.has(op.method)) terminal.byMethod.set(op.method, op);
    }
  }
  sortMixed(root);
  return { spec, root, rootLiterals };
}

function insert(node: TrieNode, segments: SegmentPattern[], i: number): TrieNode {
  const seg = segments[i];
  if (!seg) return node;
  let next: TrieNode;
  if (seg.kind === 'literal') {
    next = node.literal.get(seg.text) ?? newNode();
    node.literal.set(seg.text, next);
  } else if (seg.kind === 'param') {
    node.param ??= newNode();
    next = node.param;
  } else {
    const existing = node.mixed.find((m) => m.pattern.key === seg.key);
    next = existing?.node ?? newNode();
    if (!existing) node.mixed.push({ pattern: seg, node: next });
  }
  return insert(next, segments, i + 1);
}

/** More literal text first: `{Sid}.json` is tried before `{Sid}`-like looser mixes. */
function sortMixed(node: TrieNode): void {
  node.mixed.sort((a, b) => b.pattern.literalLength - a.pattern.literalLength);
  for (const n of node.literal.values()) sortMixed(n);
  for (const m of node.mixed) sortMixed(m.node);
  if (node.param) sortMixed(node.param);
}

/** Depth-first: literal, then mixed, then parameter children; `accept` decides on each terminal. */
function walk(
  node: TrieNode,
  segments: string[],
  i: number,
  accept: (t: Terminal) => SpecMatch | null,
): SpecMatch | null {
  if (i === segments.length) {
    for (const t of node.terminals) {
      const m = accept(t);
      if (m) return m;
    }
    return null;
  }
  const seg = segments[i]!;
  const lit = node.literal.get(seg);
  if (lit) {
    const m = walk(lit, segments, i + 1, accept);
    if (m) return m;
  }
  for (const { pattern, node: next } of node.mixed) {
    if (pattern.regex.test(seg)) {
      const m = walk(next, segments, i + 1, accept);
      if (m) return m;
    }
  }
  if (node.param && seg.length > 0) return walk(node.param, segments, i + 1, accept);
  return null;
}

function bind(terminal: Terminal, segments: string[]): PathParamValue[] {
  const out: PathParamValue[] = [];
  terminal.bindings.forEach((pattern, i) => {
    const value = segments[i];
    if (value === undefined) return;
    if (pattern.kind === 'param') out.push({ name: pattern.name, value });
    else if (pattern.kind === 'mixed') {
      const m = pattern.regex.exec(value);
      pattern.names.forEach((name, j) => {
        const v = m?.[j + 1];
        if (v) out.push({ name, value: v });
      });
    }
  });
  return out;
}

/** Loads every file; a missing or invalid spec stops start-up with a message naming it. */
export function loadSpecFiles(files: readonly string[]): LoadedSpec[] {
  return files.map(loadSpecFile);
}

/** The query parameters of an operation that carry object ids. */
export function queryIdParams(op: SpecOperation): string[] {
  return op.params.filter((p) => p.in === 'query' && p.isId).map((p) => p.name);
}
