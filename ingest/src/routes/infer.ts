import { idShape, pathSegments } from './segments.ts';

/**
 * Route templates inferred from traffic when no spec describes a path (docs/routes.md):
 *
 * 1. A segment shaped like an identifier (number, UUID, hex >= 16, ObjectId, ULID, prefixed id,
 *    e-mail, base64-ish) becomes a parameter named after its shape: `/users/{id}`.
 * 2. Otherwise it stays literal, and its value is counted in a bounded per-position sketch keyed
 *    by the template so far (`GET`-agnostic): once more than `maxLiteralsPerPosition` distinct
 *    literals were seen at one position, that position becomes `{param}` for good. A template
 *    never flips back: promoted positions are never evicted.
 *
 * Only responses that show the path exists teach the sketch (2xx, 3xx, 401, 403), so a scanner's
 * 404 storm cannot turn `/` into `/{param}`; the first segment is never promoted for the same
 * reason. Memory is bounded: `maxPositions` sketches (least recently used evicted, counted) and
 * `maxPromoted` promoted positions (further promotions refused, counted).
 */
export interface InferOptions {
  /** Distinct literal values at one position before it becomes `{param}`. Default 50. */
  maxLiteralsPerPosition?: number;
  /** Positions tracked at once (each holds <= maxLiteralsPerPosition hashes). Default 20 000. */
  maxPositions?: number;
  /** Positions that may ever be promoted to `{param}`. Default 20 000. */
  maxPromoted?: number;
  /** Segments longer than this are parameters whatever their shape. Default 64. */
  maxLiteralLength?: number;
}

export interface InferCounters {
  /** Positions promoted to `{param}` by cardinality. */
  promoted: number;
  /** Promotions refused because maxPromoted was reached. */
  promotionsRefused: number;
  /** Sketches evicted (least recently used) to stay within maxPositions. */
  evicted: number;
}

export interface InferredRoute {
  route: string;
  /** Parameter name and the raw segment value for each templated segment. */
  params: Array<{ name: string; value: string }>;
}

export interface RouteInferrer {
  /** Templates a path; `learn` (default true) lets this call teach the cardinality sketch. */
  infer(path: string, learn?: boolean): InferredRoute;
  readonly counters: Readonly<InferCounters>;
  /** Positions currently tracked and promoted: for the memory gauge. */
  size(): { positions: number; promoted: number };
}

/** Whether a response status shows the path is real, so its literals may teach the sketch. */
export function statusTeaches(status: number): boolean {
  return (status >= 200 && status < 400) || status === 401 || status === 403;
}

export function createRouteInferrer(options: InferOptions = {}): RouteInferrer {
  const maxLiterals = options.maxLiteralsPerPosition ?? 50;
  const maxPositions = options.maxPositions ?? 20_000;
  const maxPromoted = options.maxPromoted ?? 20_000;
  const maxLiteralLength = options.maxLiteralLength ?? 64;
  /** Position key (template so far + '\0') → distinct literal hashes; Map order = recency. */
  const sketches = new Map<string, Set<number>>();
  const promoted = new Set<string>();
  const counters: InferCounters = { promoted: 0, promotionsRefused: 0, evicted: 0 };

  const observe = (position: string, literal: string): boolean => {
    let seen = sketches.get(position);
    if (seen) {
      sketches.delete(position);
    } else {
      seen = new Set();
      if (sketches.size >= maxPositions) {
        const oldest = sketches.keys().next().value as string;
        sketches.delete(oldest);
        counters.evicted++;
      }
    }
    sketches.set(position, seen);
    seen.add(fnv1a(literal));
    if (seen.size <= maxLiterals) return false;
    sketches.delete(position);
    if (promoted.size >= maxPromoted) {
      counters.promotionsRefused++;
      return false;
    }
    promoted.add(position);
    counters.promoted++;
    return true;
  };

  return {
    counters,
    size: () => ({ positions: sketches.size, promoted: promoted.size }),
    infer(path: string, learn = true): InferredRoute {
      const segments = pathSegments(path);
      let template = '';
      const params: InferredRoute['params'] = [];
      const used = new Map<string, number>();
      const param = (base: string, value: string) => {
        const n = (used.get(base) ?? 0) + 1;
        used.set(base, n);
        const name = n === 1 ? base : `${base}${n}`;
        params.push({ name, value });
        template += `/{${name}}`;
      };
      for (let i = 0; i < segments.length; i++) {
        const seg = segments[i]!;
        const shape = seg.length > maxLiteralLength ? 'param' : idShape(seg);
        if (shape) {
          param(shape, seg);
          continue;
        }
        const position = `${template}\u0000`;
        if (i > 0 && promoted.has(position)) {
          param('param', seg);
          continue;
        }
        if (i > 0 && learn && position.length <= 1024 && observe(position, seg)) {
          param('param', seg);
          continue;
        }
        template += `/${escapeLiteral(seg)}`;
      }
      return { route: template || '/', params };
    },
  };
}

/** A literal that itself contains braces must not read as a parameter. */
function escapeLiteral(seg: string): string {
  return seg.includes('{') || seg.includes('}') || seg.includes('/') ? encodeURIComponent(seg) : seg;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
