import { canonicalParser } from './canonical.ts';
import { nginxParser } from './nginx.ts';
import type { Parser } from './types.ts';

/** Every format apiwatch reads, in one ordered list: the `--format` values. */
export const PARSERS: readonly Parser[] = [canonicalParser, nginxParser];

export function findParser(id: string): Parser | undefined {
  return PARSERS.find((p) => p.id === id);
}

export function formatIds(): string[] {
  return PARSERS.map((p) => p.id);
}
