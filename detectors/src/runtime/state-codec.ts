/**
 * Detector state through a checkpoint (decision 0013). v8 serialization keeps plain objects,
 * arrays, Maps, Sets, typed arrays and primitives, but not prototypes: a class instance comes
 * back as a plain object whose methods are gone, and the first call on it throws inside the
 * detector (counted as a detector error, the key silently dead). So states are encoded before
 * serialization: an instance of a registered class becomes a tagged record of its own fields,
 * revived with the class's prototype on restore. An instance of a class nobody registered fails
 * the snapshot loudly, naming the class, instead of restoring into a broken state.
 */

// biome-ignore lint/suspicious/noExplicitAny: any constructor, whatever its parameters.
type Ctor = abstract new (...args: any[]) => object;

const byName = new Map<string, Ctor>();
const byCtor = new Map<Ctor, string>();
const TAG = '\u0000apiwatch.class';

/**
 * Lets a class be part of detector state (a sketch, a counter). Call it once at module load,
 * beside the class. The name is written into checkpoints: keep it stable across versions.
 */
export function registerStateClass(name: string, ctor: Ctor): void {
  const known = byName.get(name);
  if (known && known !== ctor) throw new Error(`state class name ${name} is registered twice`);
  byName.set(name, ctor);
  byCtor.set(ctor, name);
}

/** `state` with every registered class instance replaced by a tagged record (see above). */
export function encodeState(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value)) return value.map(encodeState);
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(encodeState(k), encodeState(v));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    for (const v of value) out.add(encodeState(v));
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return encodeFields(value);
  const name = byCtor.get(proto.constructor as Ctor);
  if (name === undefined)
    throw new Error(
      `detector state holds a ${proto.constructor?.name ?? 'class'} instance, which a checkpoint cannot restore: register it with registerStateClass() (detectors/src/runtime/state-codec.ts)`,
    );
  return { [TAG]: name, fields: encodeFields(value) };
}

function encodeFields(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = encodeState((value as Record<string, unknown>)[k]);
  return out;
}

/** The inverse of encodeState: tagged records become instances of their class again. */
export function decodeState(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value)) return value.map(decodeState);
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(decodeState(k), decodeState(v));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    for (const v of value) out.add(decodeState(v));
    return out;
  }
  const record = value as Record<string, unknown>;
  const name = record[TAG];
  if (typeof name === 'string') {
    const ctor = byName.get(name);
    if (!ctor) throw new Error(`checkpoint holds detector state of class ${name}, which is not registered`);
    const fields = decodeFields(record.fields as Record<string, unknown>);
    return Object.assign(Object.create(ctor.prototype) as object, fields);
  }
  return decodeFields(record);
}

function decodeFields(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = decodeState(value[k]);
  return out;
}
