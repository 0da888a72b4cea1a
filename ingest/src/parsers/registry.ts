import { caddyParser } from './caddy.ts';
import { canonicalParser } from './canonical.ts';
import { envoyParser } from './envoy.ts';
import { haproxyParser } from './haproxy.ts';
import { istioParser } from './istio.ts';
import { nginxParser } from './nginx.ts';
import { traefikParser } from './traefik.ts';
import type { Parser } from './types.ts';

/** Every format apiwatch reads, in one ordered list: the `--format` values. */
export const PARSERS: readonly Parser[] = [
  canonicalParser,
  envoyParser,
  istioParser,
  nginxParser,
  caddyParser,
  traefikParser,
  haproxyParser,
];

export function findParser(id: string): Parser | undefined {
  return PARSERS.find((p) => p.id === id);
}

export function formatIds(): string[] {
  return PARSERS.map((p) => p.id);
}
