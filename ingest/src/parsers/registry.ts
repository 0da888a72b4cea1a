import { awsApigwParser } from './aws-apigw.ts';
import { caddyParser } from './caddy.ts';
import { canonicalParser } from './canonical.ts';
import { envoyParser } from './envoy.ts';
import { envoyAlsParser } from './envoy-als.ts';
import { haproxyParser } from './haproxy.ts';
import { istioParser } from './istio.ts';
import { kongParser } from './kong.ts';
import { nginxParser } from './nginx.ts';
import { otlpParser } from './otlp.ts';
import { traefikParser } from './traefik.ts';
import type { Parser } from './types.ts';

/** Every format apiwatch reads, in one ordered list: the `--format` values. */
export const PARSERS: readonly Parser[] = [
  canonicalParser,
  envoyParser,
  envoyAlsParser,
  istioParser,
  kongParser,
  nginxParser,
  awsApigwParser,
  otlpParser,
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
