/**
 * Path segments and identifier shapes shared by spec matching and route inference.
 */

/** Most segments a path is split into; the rest of a longer path is kept as one segment. */
export const MAX_SEGMENTS = 64;

/**
 * `/a//b/c%2Fd/;jsessionid=x/` → `['a', 'b', 'c/d']`: empty segments (double and trailing
 * slashes) dropped, matrix parameters (`;…`) cut, each segment percent-decoded after splitting
 * (so an encoded slash stays inside its segment). `decode=false` keeps templates as written.
 */
export function pathSegments(path: string, decode = true): string[] {
  const out: string[] = [];
  const q = path.indexOf('?');
  const clean = q >= 0 ? path.slice(0, q) : path;
  let start = 0;
  for (let i = 0; i <= clean.length; i++) {
    if (i < clean.length && clean.charCodeAt(i) !== 47 /* / */) continue;
    if (i > start) {
      let seg = clean.slice(start, i);
      const semi = decode ? seg.indexOf(';') : -1;
      if (semi >= 0) seg = seg.slice(0, semi);
      if (seg) {
        if (out.length === MAX_SEGMENTS - 1) {
          out.push(decode ? decodeSegment(clean.slice(start)) : clean.slice(start));
          return out;
        }
        out.push(decode ? decodeSegment(seg) : seg);
      }
    }
    start = i + 1;
  }
  return out;
}

function decodeSegment(seg: string): string {
  if (!seg.includes('%')) return seg;
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/**
 * Parameter names that carry secrets, never ids: their values must not become object ids
 * (a `?sig=` or `/reset/{token}` value is a credential, not an object).
 */
const SECRET_NAME =
  /(pass(word|wd)?|pwd|secret|token|api[-_]?key|apikey|^key$|[-_]key$|signature|^sig$|[-_]sig$|session|auth|credential|otp|nonce|^code$|^state$|cookie|jwt|bearer)/i;

export function isSecretName(name: string): boolean {
  // A lower-case `sid` is a session id by convention; Twilio's `Sid` is an object id.
  return name === 'sid' || SECRET_NAME.test(name);
}

/** `id`, `user_id`, `userId`, `AccountSid`, `order-id`, `uuid`, `vehicleId`, `report_id`, `username`. */
const ID_NAME =
  /(^id$|^Sid$|^uuid$|^guid$|[-_](id|uuid|guid|sid|no|number)$|[a-z0-9](Id|ID|Uuid|UUID|Sid|SID)$|^(user|account)name$|^username$|^email$)/;

/**
 * Parameter names that name a tenant (`tenant`, `tenantId`, `org_id`, `workspace`): their values
 * are kept as objects whatever their shape (tenant slugs are words), for bola.cross_tenant.
 */
const TENANT_NAME =
  /^(tenant|tenants|org|orgs|organi[sz]ation|workspace|company)([-_]?(id|slug|name|key))?$|^(tenant|org|organi[sz]ation|workspace|company)(Id|ID|Slug|Name|Key)$/i;

export function looksLikeTenantName(name: string): boolean {
  return !isSecretName(name) && TENANT_NAME.test(name);
}

export function looksLikeIdName(name: string): boolean {
  return !isSecretName(name) && ID_NAME.test(name);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OBJECT_ID = /^[0-9a-f]{24}$/i;
const HEX = /^[0-9a-f]{16,}$/i;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const NUMERIC = /^\d+$/;
/** Prefixed ids: Twilio `CA…` + 32 hex, Stripe `cus_…`, `usr-…`. */
const PREFIXED = /^[A-Za-z]{1,8}[_-]?[0-9a-fA-F]{16,}$|^[a-z]{2,12}_[A-Za-z0-9]{8,}$/;
const EMAIL = /^[^@/\s]{1,64}@[^@/\s]{1,255}\.[A-Za-z]{2,}$/;
const BASE64ISH = /^[A-Za-z0-9_-]{16,}={0,2}$|^[A-Za-z0-9+/]{16,}={0,2}$/;

/** What kind of identifier a segment value is, or null when it looks like a word. */
export type IdShape = 'id' | 'uuid' | 'objectId' | 'hex' | 'ulid' | 'email' | 'key';

export function idShape(value: string): IdShape | null {
  if (NUMERIC.test(value)) return 'id';
  if (UUID.test(value)) return 'uuid';
  if (OBJECT_ID.test(value)) return 'objectId';
  if (HEX.test(value)) return 'hex';
  if (ULID.test(value)) return 'ulid';
  if (PREFIXED.test(value)) return 'id';
  if (EMAIL.test(value)) return 'email';
  if (BASE64ISH.test(value) && isRandomLooking(value)) return 'key';
  return null;
}

/**
 * Base64-ish ids (`GQIVriFLIAMEMsA=`, `dQw4w9WgXcQ-abcdEF12`) against long words
 * (`getAccountSettingsForUser`, `check-otp-and-reset`): a random id mixes digits with letters, or
 * has runs of capitals next to lower case; camelCase words have single capitals only.
 */
function isRandomLooking(value: string): boolean {
  let digits = 0;
  let letters = 0;
  let lower = 0;
  let upperPairs = 0;
  let prevUpper = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const isUpper = c >= 65 && c <= 90;
    if (c >= 48 && c <= 57) digits++;
    else if (isUpper || (c >= 97 && c <= 122)) letters++;
    if (c >= 97 && c <= 122) lower++;
    if (isUpper && prevUpper) upperPairs++;
    prevUpper = isUpper;
  }
  if (digits >= 2 && letters >= 4) return true;
  return upperPairs >= 2 && lower >= 2;
}
