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

/** A declared parameter of an operation, as far as route matching and object ids care. */
export interface SpecParam {
  name: string;
  in: 'path' | 'query';
  /** The spec marks it as an identifier (uuid format, an id-like name, or a pattern/format on an id). */
  isId: boolean;
}

/** One operation: the spec's path key (the route template) and its parameters. */
export interface SpecOperation {
  method: string;
  route: string;
  operationId: string | null;
  params: readonly SpecParam[];
  deprecated: boolean;
  spec: string;
}

/** A spec reduced to what matching needs. */
export interface LoadedSpec {
  /** The file (or a name) the spec came from. */
  origin: string;
  title: string | null;
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
        spec: origin,
      });
    }
  }
  const info = isObj(doc.info) ? doc.info : {};
  return { origin, title: typeof info.title === 'string' ? info.title : null, basePaths, hosts, operations };
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
    out.push({ name: param.name, in: param.in, isId: specSaysId(param.name, schema) });
  }
  return out;
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

export function createRouteMatcher(specs: readonly LoadedSpec[], options: MatcherOptions = {}): RouteMatcher {
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
  };
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
