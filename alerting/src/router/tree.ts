import type { ReceiverConfigValue, RootRouteConfigValue, RouteConfigValue } from '@apiwatch/core';
import { type Labels, type Matcher, matchesAll, parseMatchers } from './matcher.ts';

/**
 * The routing tree, compiled once from config. Alertmanager's semantics: a finding enters at the
 * root (which matches everything), descends into the first child whose matchers hold — and into
 * later siblings too while the matched child says `continue` — and lands on the deepest matching
 * nodes; a node none of whose children match is itself the match. Unset settings inherit.
 */
export interface RouteNode {
  /** Stable position in the tree ("root", "root.0", "root.0.1"): part of every group key. */
  readonly path: string;
  readonly receiver: string | null;
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
  readonly groupBy: readonly string[];
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  readonly routes: readonly RouteNode[];
}

export function buildRouteTree(
  root: RootRouteConfigValue,
  receivers: readonly ReceiverConfigValue[],
): RouteNode {
  const ids = new Set(receivers.map((r) => r.id));
  const check = (id: string | undefined, where: string) => {
    if (id !== undefined && !ids.has(id))
      throw new Error(`${where}: receiver "${id}" is not configured in alert.receivers`);
  };
  check(root.receiver, 'alert.route.receiver');
  const base: RouteNode = {
    path: 'root',
    receiver: root.receiver ?? null,
    matchers: [],
    continue: false,
    groupBy: root.groupBy,
    groupWaitMs: root.groupWaitSeconds * 1000,
    groupIntervalMs: root.groupIntervalSeconds * 1000,
    repeatIntervalMs: root.repeatIntervalSeconds * 1000,
    routes: [],
  };
  const children: RouteConfigValue[] =
    root.routes.length === 0 && root.receiver === undefined
      ? // No tree configured: every receiver hears everything (at or above its minSeverity).
        receivers.map((r) => ({ receiver: r.id, matchers: [], continue: true }))
      : root.routes;
  return { ...base, routes: children.map((c, i) => compile(c, base, `root.${i}`, check)) };
}

function compile(
  c: RouteConfigValue,
  parent: RouteNode,
  path: string,
  check: (id: string | undefined, where: string) => void,
): RouteNode {
  check(c.receiver, `alert.route ${path}`);
  let matchers: Matcher[];
  try {
    matchers = parseMatchers(c.matchers ?? []);
  } catch (e) {
    throw new Error(`alert.route ${path}.matchers: ${(e as Error).message}`);
  }
  const node: RouteNode = {
    path,
    receiver: c.receiver ?? parent.receiver,
    matchers,
    continue: c.continue ?? false,
    groupBy: c.groupBy ?? parent.groupBy,
    groupWaitMs: c.groupWaitSeconds !== undefined ? c.groupWaitSeconds * 1000 : parent.groupWaitMs,
    groupIntervalMs:
      c.groupIntervalSeconds !== undefined ? c.groupIntervalSeconds * 1000 : parent.groupIntervalMs,
    repeatIntervalMs:
      c.repeatIntervalSeconds !== undefined ? c.repeatIntervalSeconds * 1000 : parent.repeatIntervalMs,
    routes: [],
  };
  return { ...node, routes: (c.routes ?? []).map((cc, i) => compile(cc, node, `${path}.${i}`, check)) };
}

/** The nodes a finding lands on (pure: labels in, nodes out). */
export function matchRoutes(node: RouteNode, labels: Labels): RouteNode[] {
  if (!matchesAll(node.matchers, labels)) return [];
  const out: RouteNode[] = [];
  for (const child of node.routes) {
    const hit = matchRoutes(child, labels);
    if (hit.length === 0) continue;
    out.push(...hit);
    if (!child.continue) break;
  }
  return out.length > 0 ? out : [node];
}

/** Every node with a receiver, for listing (CLI, docs). */
export function walkRoutes(node: RouteNode, visit: (n: RouteNode) => void): void {
  visit(node);
  for (const c of node.routes) walkRoutes(c, visit);
}

/** The group labels of a finding on a node: the groupBy labels it has ('...' = all of them). */
export function groupLabelsOf(node: RouteNode, labels: Labels): Record<string, string> {
  if (node.groupBy.includes('...')) return { ...labels };
  const out: Record<string, string> = {};
  for (const name of node.groupBy) {
    const v = labels[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
