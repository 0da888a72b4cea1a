import type { ApiEvent, SpecAnnotationValue, SpecViolationCode } from '@apiwatch/core';
import type {
  LoadedSpec,
  ParamSchema,
  PathParamValue,
  RouteMatcher,
  SpecMatch,
  SpecOperation,
} from './openapi.ts';

/**
 * Spec conformance of one call (docs/routes.md "Spec annotation"): which operation it is, whether
 * that operation is deprecated or an old version, what security it requires, and which of its
 * parameters broke the spec. Only codes and parameter names leave this file — a value that
 * failed a check is never copied, so query values (which the event never keeps) stay dropped.
 */

type Violation = SpecAnnotationValue['violations'][number];

const MAX_VIOLATIONS = 32;
/** Values longer than this are only length-checked: a spec's pattern never runs on attacker-sized input. */
const MAX_CHECKED_VALUE = 1024;

/** Server hosts that are a developer's placeholder, not where the API is served (crAPI, VAmPI). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '0.0.0.0', '[::1]', '::1']);

/**
 * Whether a spec covers a call by host and base path (so an unmatched path is a shadow
 * endpoint). A spec that names only loopback hosts covers any host.
 */
export function specCovers(spec: LoadedSpec, host: string | null, path: string): boolean {
  const named = spec.hosts.filter((h) => !LOOPBACK.has(h));
  if (host && named.length > 0 && !named.includes(host.toLowerCase().replace(/:\d+$/, ''))) return false;
  return spec.basePaths.some((b) => b === '' || path === b || path.startsWith(`${b}/`));
}

export interface AnnotateInput {
  event: ApiEvent;
  matcher: RouteMatcher;
  /** The spec match for the event's path, or null. */
  match: SpecMatch | null;
  /** The query values, parsed lazily (null when the raw query is not available). */
  query: () => ReadonlyMap<string, string> | null;
}

/**
 * The SpecAnnotation for a call, or null when no loaded spec covers its host and base path (the
 * call belongs to an API apiwatch has no spec for: neither documented nor shadow).
 */
export function annotate({ event, matcher, match, query }: AnnotateInput): SpecAnnotationValue | null {
  const req = event.request;
  if (!match) {
    const retired = matcher.matchRetiredVersion(req.method, req.path, req.host);
    if (!retired && !matcher.specs.some((s) => specCovers(s, req.host, req.path))) return null;
    return {
      status: 'shadow',
      specId: retired?.operation.specId ?? coveringSpecId(matcher.specs, req.host, req.path),
      operationId: null,
      // A path under a retired version of a documented operation: a zombie, even though no spec lists it.
      deprecated: retired !== null,
      securityRequired: retired?.operation.security.required ?? false,
      requiredScopes: [...(retired?.operation.security.scopes ?? [])],
      violations: [],
    };
  }
  const op = match.operation;
  if (!match.methodDocumented) {
    return {
      status: 'undocumented_method',
      specId: op.specId,
      operationId: null,
      deprecated: false,
      securityRequired: false,
      requiredScopes: [],
      violations: [{ code: 'method_undocumented', name: null, in: null }],
    };
  }
  const violations: Violation[] = [];
  checkPath(op, match.pathParams, violations);
  checkQuery(op, req.queryKeys, query, violations);
  if (!statusDocumented(op.responses, event.response.status))
    push(violations, 'status_undocumented', null, null);
  return {
    status: 'documented',
    specId: op.specId,
    operationId: op.operationId,
    deprecated: op.deprecated,
    securityRequired: op.security.required,
    requiredScopes: [...op.security.scopes],
    violations,
  };
}

function coveringSpecId(specs: readonly LoadedSpec[], host: string | null, path: string): string | null {
  const spec = specs.find((s) => specCovers(s, host, path));
  return spec ? (spec.operations[0]?.specId ?? `${spec.title ?? spec.origin}@${spec.version ?? ''}`) : null;
}

function push(out: Violation[], code: SpecViolationCode, name: string | null, where: Violation['in']): void {
  if (out.length >= MAX_VIOLATIONS) return;
  const n = name === null ? null : name.slice(0, 128);
  if (out.some((v) => v.code === code && v.name === n && v.in === where)) return;
  out.push({ code, name: n, in: where });
}

function checkPath(op: SpecOperation, values: readonly PathParamValue[], out: Violation[]): void {
  for (const { name, value } of values) {
    const param = op.params.find((p) => p.in === 'path' && p.name === name);
    if (!param?.schema) continue;
    const code = checkValue(value, param.schema);
    if (code) push(out, code, name, 'path');
  }
}

function checkQuery(
  op: SpecOperation,
  keys: readonly string[],
  query: () => ReadonlyMap<string, string> | null,
  out: Violation[],
): void {
  const declared = op.params.filter((p) => p.in === 'query');
  for (const p of declared)
    if (p.required && !keys.includes(p.name)) push(out, 'param_required', p.name, 'query');
  for (const k of keys) {
    if (declared.some((p) => p.name === k || arrayName(p.name, k))) continue;
    if (op.credentialQueryParams.includes(k)) continue;
    push(out, 'param_unknown', k, 'query');
  }
  const checked = declared.filter((p) => p.schema !== null && keys.includes(p.name));
  if (checked.length === 0) return;
  const values = query();
  if (!values) return;
  for (const p of checked) {
    const v = values.get(p.name);
    if (v === undefined) continue;
    // An empty value (`?limit=`) is allowed only where the spec says so; JSON Schema types decide.
    const code = checkValue(v, p.schema!);
    if (code) push(out, code, p.name, 'query');
  }
}

/** `ids[]` for a declared `ids`: PHP/Rails array notation for a form-style array. */
function arrayName(declared: string, key: string): boolean {
  return key.length === declared.length + 2 && key.endsWith('[]') && key.startsWith(declared);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):?[0-5]\d)$/;
const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,255}$/;
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const INTEGER = /^-?\d+$/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * The first constraint a value breaks, or null. Order: type, then enum, format, pattern, range,
 * length — one code per parameter is enough to tell a fuzzer from a client bug.
 */
export function checkValue(value: string, schema: ParamSchema): SpecViolationCode | null {
  if (schema.type === 'array') {
    if (!schema.items) return lengthOnly(value, schema);
    for (const item of value.split(',')) {
      const code = checkValue(item, schema.items);
      if (code) return code;
    }
    return null;
  }
  let numeric: number | null = null;
  if (schema.type === 'integer') {
    if (!INTEGER.test(value)) return 'param_type';
    numeric = Number(value);
  } else if (schema.type === 'number') {
    if (!NUMBER.test(value)) return 'param_type';
    numeric = Number(value);
  } else if (schema.type === 'boolean') {
    if (value !== 'true' && value !== 'false') return 'param_type';
  }
  if (schema.enum && schema.enum.length > 0 && !schema.enum.includes(value)) {
    // Integer enums written as numbers: `1` matches `1.0`-free String(1).
    if (numeric === null || !schema.enum.includes(String(numeric))) return 'param_enum';
  }
  if (schema.format) {
    const bad = formatBroken(value, schema.format, numeric);
    if (bad) return bad;
  }
  if (schema.pattern && value.length <= MAX_CHECKED_VALUE) {
    schema.pattern.lastIndex = 0;
    if (!schema.pattern.test(value)) return 'param_pattern';
  }
  if (numeric !== null) {
    if (
      schema.minimum !== null &&
      (schema.exclusiveMinimum ? numeric <= schema.minimum : numeric < schema.minimum)
    )
      return 'param_range';
    if (
      schema.maximum !== null &&
      (schema.exclusiveMaximum ? numeric >= schema.maximum : numeric > schema.maximum)
    )
      return 'param_range';
  }
  return lengthOnly(value, schema);
}

function lengthOnly(value: string, schema: ParamSchema): SpecViolationCode | null {
  if (schema.type === 'integer' || schema.type === 'number' || schema.type === 'boolean') return null;
  // JSON Schema counts code points, not UTF-16 units.
  const length = value.length > MAX_CHECKED_VALUE ? value.length : [...value].length;
  if (schema.minLength !== null && length < schema.minLength) return 'param_length';
  if (schema.maxLength !== null && length > schema.maxLength) return 'param_length';
  return null;
}

function formatBroken(value: string, format: string, numeric: number | null): SpecViolationCode | null {
  switch (format) {
    case 'uuid':
      return UUID.test(value) ? null : 'param_format';
    case 'date':
      return DATE.test(value) ? null : 'param_format';
    case 'date-time':
      return DATE_TIME.test(value) ? null : 'param_format';
    case 'email':
      return EMAIL.test(value) ? null : 'param_format';
    case 'ipv4':
      return IPV4.test(value) ? null : 'param_format';
    case 'int32':
      if (numeric === null) return INTEGER.test(value) ? null : 'param_format';
      return numeric >= -2147483648 && numeric <= 2147483647 ? null : 'param_range';
    case 'int64':
      if (numeric === null) return INTEGER.test(value) ? null : 'param_format';
      // Compared as BigInt: a double cannot hold 2^63 - 1 exactly.
      return INTEGER.test(value) &&
        BigInt(value) <= 9223372036854775807n &&
        BigInt(value) >= -9223372036854775808n
        ? null
        : 'param_range';
    default:
      // Formats this stage does not know (phone-number, uri, …) are annotations, not checks.
      return null;
  }
}

/** Whether the operation documents a response status: exact, `2XX` range, or `default`. */
export function statusDocumented(responses: readonly string[], status: number): boolean {
  if (responses.length === 0 || status === 0) return true;
  if (responses.includes('DEFAULT')) return true;
  const s = String(status);
  return responses.includes(s) || responses.includes(`${s[0]}XX`);
}
