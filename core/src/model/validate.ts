import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type ApiEvent, ApiEventSchema } from './event.ts';
import { type Finding, FindingSchema } from './finding.ts';

/** A compiled validator: checks one value and, when it fails, names the first offending field. */
export interface Validator<T> {
  check(value: unknown): value is T;
  /** A short reason naming the JSON pointer of the first error, e.g. "/response/status: Expected integer". */
  explain(value: unknown): string;
}

function compile<T>(schema: TSchema): Validator<T> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (value: unknown): value is T => compiled.Check(value),
    explain(value: unknown): string {
      const first = compiled.Errors(value).First();
      if (!first) return 'valid';
      return `${first.path || '/'}: ${first.message}`;
    },
  };
}

export const apiEventValidator: Validator<ApiEvent> = compile<ApiEvent>(ApiEventSchema);
export const findingValidator: Validator<Finding> = compile<Finding>(FindingSchema);
