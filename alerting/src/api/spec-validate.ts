import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvDraft04 from 'ajv-draft-04';

// A CommonJS module whose module.exports is the class (with .default = itself): TypeScript's
// NodeNext view of the default import is the namespace; take the class from .default.
const AjvDraft04 = (ajvDraft04 as unknown as { default: typeof ajvDraft04.default }).default;

/**
 * Validates an uploaded OpenAPI document against the official OpenAPI JSON Schema of its
 * version (vendor/README.md): 3.0.x against the 2021-09-28 schema (JSON Schema draft 04),
 * 3.1.x against the 2022-10-07 one (2020-12). Swagger 2.0 and other versions are refused.
 * The validators are compiled once, on first use.
 */
export type SpecCheck =
  | { ok: true; openapi: string }
  | { ok: false; code: 'ALERT_SPEC_UNSUPPORTED_VERSION' | 'ALERT_SPEC_INVALID'; message: string };

type Validate = ((doc: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; message?: string }> | null;
};
let v30: Validate | null = null;
let v31: Validate | null = null;

const vendored = (file: string) => readFileSync(new URL(`./vendor/${file}`, import.meta.url), 'utf8');

function validator30(): Validate {
  v30 ??= new AjvDraft04({ strict: false, validateFormats: false, allErrors: false }).compile(
    JSON.parse(vendored('openapi-3.0-schema.json')),
  ) as Validate;
  return v30;
}
function validator31(): Validate {
  // Ajv does not resolve the schema's $dynamicRef "#meta" to its only $dynamicAnchor
  // (#/$defs/schema, the default dialect's "object or boolean"): point it there with a $ref.
  v31 ??= new Ajv2020({ strict: false, validateFormats: false, allErrors: false }).compile(
    JSON.parse(
      vendored('openapi-3.1-schema.json').replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"'),
    ),
  ) as Validate;
  return v31;
}

export function checkOpenApiDocument(doc: unknown): SpecCheck {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, code: 'ALERT_SPEC_INVALID', message: 'an OpenAPI document is a mapping (object)' };
  const d = doc as Record<string, unknown>;
  const version = typeof d.openapi === 'string' ? d.openapi : null;
  if (!version || !/^3\.[01]\.\d+(-.+)?$/.test(version)) {
    const what =
      typeof d.swagger === 'string' ? `swagger ${d.swagger}` : `openapi ${JSON.stringify(d.openapi ?? null)}`;
    return {
      ok: false,
      code: 'ALERT_SPEC_UNSUPPORTED_VERSION',
      message: `${what}: upload an OpenAPI 3.0.x or 3.1.x document (Swagger 2.0 files go in ingest.specs)`,
    };
  }
  const validate = version.startsWith('3.0') ? validator30() : validator31();
  if (validate(doc)) return { ok: true, openapi: version };
  const errors = (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  return {
    ok: false,
    code: 'ALERT_SPEC_INVALID',
    message: `not a valid OpenAPI ${version} document: ${errors.join('; ')}`,
  };
}
