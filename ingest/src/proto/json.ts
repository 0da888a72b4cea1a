import type protobuf from 'protobufjs';

/**
 * A decoded protobuf message → its proto3 JSON mapping (camelCase names, enum names, 64-bit
 * integers as decimal strings, Timestamp as RFC 3339, Duration as "1.5s", Struct as a plain
 * object, wrappers as their value, bytes as base64). This is the form the ALS and OTLP parsers
 * read, so a binary gRPC/protobuf message and a JSON one take the same path.
 *
 * protobufjs' own `toObject` leaves well-known types as messages (`{seconds, nanos}`), which is
 * why this walker exists.
 */
export interface ProtoJsonOptions {
  /** Bytes fields written as lower-case hex rather than base64 (OTLP trace and span ids). */
  hexBytesFields?: ReadonlySet<string>;
  /** Enums as their numbers (OTLP/JSON) rather than names (proto3 JSON default). */
  enumsAsNumbers?: boolean;
}

type Decoded = Record<string, unknown>;

export function toProtoJson(
  type: protobuf.Type,
  message: Decoded,
  opts: ProtoJsonOptions = {},
): Record<string, unknown> {
  const wkt = wellKnown(type.fullName, message);
  if (wkt !== NOT_WELL_KNOWN) return wkt as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (!Object.hasOwn(message, field.name)) continue;
    const value = message[field.name];
    if (value === null || value === undefined) continue;
    if (field.map) {
      const obj: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Decoded)) obj[k] = convertValue(field, v, opts);
      if (Object.keys(obj).length > 0) out[field.name] = obj;
    } else if (field.repeated) {
      const arr = value as unknown[];
      if (arr.length === 0) continue;
      out[field.name] = arr.map((v) => convertValue(field, v, opts));
    } else {
      out[field.name] = convertValue(field, value, opts);
    }
  }
  return out;
}

function convertValue(field: protobuf.Field, value: unknown, opts: ProtoJsonOptions): unknown {
  const resolved = field.resolvedType;
  if (resolved && 'fieldsArray' in resolved)
    return toProtoJson(resolved as protobuf.Type, value as Decoded, opts);
  if (resolved && 'valuesById' in resolved) {
    if (opts.enumsAsNumbers) return value;
    return (resolved as protobuf.Enum).valuesById[value as number] ?? value;
  }
  switch (field.type) {
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return longString(value);
    case 'bytes': {
      const buf = Buffer.from(value as Uint8Array);
      return opts.hexBytesFields?.has(field.name) ? buf.toString('hex') : buf.toString('base64');
    }
    default:
      return value;
  }
}

/** protobufjs gives Long objects (or numbers when they fit); both print as the exact decimal. */
function longString(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const v = value as { low: number; high: number; unsigned: boolean };
    const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    return (v.unsigned ? big : BigInt.asIntN(64, big)).toString();
  }
  return String(value);
}

const NOT_WELL_KNOWN = Symbol('not-well-known');

function wellKnown(fullName: string, m: Decoded): unknown {
  switch (fullName) {
    case '.google.protobuf.Timestamp': {
      const seconds = BigInt(longString(m.seconds ?? 0));
      const nanos = Number(m.nanos ?? 0);
      const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
      return nanos ? `${iso}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}Z` : `${iso}Z`;
    }
    case '.google.protobuf.Duration': {
      const seconds = BigInt(longString(m.seconds ?? 0));
      const nanos = Number(m.nanos ?? 0);
      const negative = seconds < 0n || nanos < 0;
      const abs = (seconds < 0n ? -seconds : seconds).toString();
      const frac = nanos ? `.${String(Math.abs(nanos)).padStart(9, '0')}` : '';
      return `${negative ? '-' : ''}${abs}${frac}s`;
    }
    case '.google.protobuf.Struct':
      return structJson(m);
    case '.google.protobuf.Value':
      return valueJson(m);
    case '.google.protobuf.ListValue':
      return ((m.values as Decoded[] | undefined) ?? []).map(valueJson);
    case '.google.protobuf.DoubleValue':
    case '.google.protobuf.FloatValue':
    case '.google.protobuf.Int32Value':
    case '.google.protobuf.UInt32Value':
    case '.google.protobuf.BoolValue':
    case '.google.protobuf.StringValue':
      return m.value ?? defaultOf(fullName);
    case '.google.protobuf.Int64Value':
    case '.google.protobuf.UInt64Value':
      return longString(m.value ?? 0);
    case '.google.protobuf.BytesValue':
      return Buffer.from((m.value as Uint8Array | undefined) ?? []).toString('base64');
    case '.google.protobuf.Any':
      // The embedded type is not resolved (it may be any extension); keep its name and bytes.
      return {
        '@type': m.typeUrl ?? m.type_url ?? '',
        value: Buffer.from((m.value as Uint8Array | undefined) ?? []).toString('base64'),
      };
    default:
      return NOT_WELL_KNOWN;
  }
}

function defaultOf(fullName: string): unknown {
  if (fullName.endsWith('BoolValue')) return false;
  if (fullName.endsWith('StringValue')) return '';
  return 0;
}

function structJson(m: Decoded): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((m.fields as Record<string, Decoded> | undefined) ?? {}))
    out[k] = valueJson(v);
  return out;
}

function valueJson(v: Decoded): unknown {
  if (Object.hasOwn(v, 'stringValue')) return v.stringValue;
  if (Object.hasOwn(v, 'numberValue')) return v.numberValue;
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue;
  if (Object.hasOwn(v, 'structValue')) return structJson(v.structValue as Decoded);
  if (Object.hasOwn(v, 'listValue'))
    return ((v.listValue as Decoded).values as Decoded[] | undefined)?.map(valueJson) ?? [];
  return null;
}

/**
 * The reverse: proto3 JSON → a message object protobufjs can encode (`type.fromObject`). Used to
 * build binary fixtures from JSON ones; Any values are not supported.
 */
export function fromProtoJson(type: protobuf.Type, json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = json[field.name];
    if (value === undefined || value === null) continue;
    const conv = (v: unknown) => fromJsonValue(field, v);
    if (field.map)
      out[field.name] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, conv(v)]),
      );
    else if (field.repeated) out[field.name] = (value as unknown[]).map(conv);
    else out[field.name] = conv(value);
  }
  return out;
}

function fromJsonValue(field: protobuf.Field, v: unknown): unknown {
  const resolved = field.resolvedType;
  if (!resolved || !('fieldsArray' in resolved)) return v;
  const t = resolved as protobuf.Type;
  switch (t.fullName) {
    case '.google.protobuf.Timestamp': {
      const m = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(String(v));
      const seconds = Math.floor(Date.parse(`${m?.[1] ?? ''}Z`) / 1000);
      return { seconds, nanos: Number((m?.[2] ?? '').padEnd(9, '0') || 0) };
    }
    case '.google.protobuf.Duration': {
      const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(String(v));
      return { seconds: Number(m?.[1] ?? 0), nanos: Number((m?.[2] ?? '').padEnd(9, '0') || 0) };
    }
    case '.google.protobuf.Struct':
      return structFromJson(v as Record<string, unknown>);
    case '.google.protobuf.Value':
      return valueFromJson(v);
    default:
      if (t.fullName.startsWith('.google.protobuf.') && t.fullName.endsWith('Value')) return { value: v };
      return fromProtoJson(t, v as Record<string, unknown>);
  }
}

function structFromJson(o: Record<string, unknown>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, valueFromJson(v)])) };
}

function valueFromJson(v: unknown): Record<string, unknown> {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(valueFromJson) } };
  return { structValue: structFromJson(v as Record<string, unknown>) };
}
