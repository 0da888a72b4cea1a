import { type ApiEvent, actorKey } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { intern } from '../bola/common.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { actorFindingEntity, endpointOf, formatSpan, ipNet, listForHumans, net24 } from './common.ts';
import { CappedDistinct, hash32 } from './sketch.ts';

export const CredentialAbuseConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 300,
      maximum: 86_400,
      default: 3600,
      description:
        'Distinct addresses and networks are counted per window of this length (Elastic: 30 min buckets).',
    }),
    minAddresses: T.Integer({
      minimum: 2,
      maximum: 100_000,
      default: 6,
      description:
        'Floor: distinct client addresses in a window for a credential with history (ATP labels >5 IPs).',
    }),
    historyMultiplier: T.Number({
      minimum: 1,
      maximum: 100,
      default: 4,
      description:
        'And more than this many times the most addresses the credential used in one window of its own history (decaying peak).',
    }),
    minNewNetworks: T.Integer({
      minimum: 1,
      maximum: 1000,
      default: 3,
      description:
        'Networks (/24, IPv6 /48) in the window the credential was never seen from: a fleet growing inside its own networks is not a theft.',
    }),
    learnWindows: T.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 6,
      description:
        'Active windows a credential needs before its own history is trusted; before that the conservative static floors apply (its first window is never judged).',
    }),
    coldMinAddresses: T.Integer({
      minimum: 2,
      maximum: 1_000_000,
      default: 20,
      description:
        'Conservative static fallback without history: distinct addresses in a window (an app key shipped to phones churns through carrier addresses).',
    }),
    coldMinNetworks: T.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 10,
      description: 'With coldMinAddresses: distinct networks in the window without history.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      maximum: 86_400,
      default: 3600,
      description: 'The episode ends (resolved update) after this long without a call from a new network.',
    }),
  },
  { additionalProperties: false },
);
export type CredentialAbuseConfig = Static<typeof CredentialAbuseConfig>;

const KNOWN_NETS = 16;

const internOrNull = (text: string | null) => (text === null ? null : intern(text));
/** Slots per region of AbuseState.nets at first: most credentials are used from a network or two. */
const FIRST_SLOTS = 4;

/** `n` zeros, the array's store exactly `n` slots (push would grow it by 16). */
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** Doubles the slots of each region of `s.nets` (up to KNOWN_NETS), keeping their contents. */
function grow(s: AbuseState): void {
  const cap = s.nets.length / 3;
  const next = Math.min(KNOWN_NETS, cap * 2);
  const nets = zeros(3 * next);
  for (let r = 0; r < 3; r++) for (let i = 0; i < cap; i++) nets[r * next + i] = s.nets[r * cap + i]!;
  s.nets = nets;
}

interface AbuseState {
  /**
   * One array of int32 numbers (small integers: no boxed numbers; a plain array rather than an
   * Int32Array, whose typed-array and ArrayBuffer objects cost ~200 B for 48 B of data; older
   * checkpoints hold the Int32Array, which works the same) of three regions of `cap` slots (4 at
   * first, doubled up to 16 when one fills): [0, cap) the hashed networks (/24 or /48, as int32)
   * the credential was learned from, [cap, 2 cap) the last window each was seen in, [2 cap,
   * 3 cap) the networks of the current window, to learn when it closes.
   */
  nets: number[] | Int32Array;
  knownCount: number;
  windowNetCount: number;
  windowIdx: number;
  /** The address of the previous call (already counted in this window). */
  lastIp: string | null;
  addresses: CappedDistinct;
  networks: CappedDistinct;
  newNetworks: number;
  /** Up to 6 of the window's new networks (null until the first). */
  newNetSamples: string[] | null;
  /** Decaying peak of distinct addresses per window, and active windows learned. */
  peak: number;
  activeWindows: number;
  raisedAt: number;
  lastNew: number;
  observed: number;
  threshold: number;
  /**
   * Up to 10 event ids from new addresses, collected only in a window that can be judged (not
   * the credential's first) once it has a new network, or while an episode is open; null otherwise.
   */
  samples: string[] | null;
  /** The endpoint of the call that opened the episode ('' before one). */
  endpoint: string;
  tenant: string | null;
  name: string | null;
  ref: string | null;
}

/**
 * `auth.credential_abuse`: one API key or token used from far more addresses and networks than
 * its own history — a stolen key, a replayed token (OWASP API2:2023). Actor scope, keyed by the
 * credential (the actor of a successful call). Each credential learns its own habit: the networks
 * it is used from (16 kept) and a decaying peak of distinct addresses per window, so CI fleets,
 * autoscaled services and mobile app keys that always churn are judged against themselves. The
 * baseline snapshot holds no per-credential network history, so before a credential has
 * `learnWindows` active windows a conservative static fallback applies.
 */
export const credentialAbuse = defineDetector({
  id: 'auth.credential_abuse',
  title: 'Credential used from unusually many networks',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: CredentialAbuseConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy(event: ApiEvent): string | null {
    if (event.identity.auth !== 'success') return null;
    const key = actorKey(event);
    return key.startsWith('ip:') ? null : key;
  },
  init: (_key, event): AbuseState => ({
    nets: zeros(3 * FIRST_SLOTS),
    knownCount: 0,
    windowNetCount: 0,
    windowIdx: -1,
    lastIp: null,
    addresses: new CappedDistinct(24, 6),
    networks: new CappedDistinct(16, 5),
    newNetworks: 0,
    newNetSamples: null,
    peak: 0,
    activeWindows: 0,
    raisedAt: 0,
    lastNew: 0,
    observed: 0,
    threshold: 0,
    samples: null,
    endpoint: '',
    // Interned: one tenant's credentials share one copy (decision 0026).
    tenant: event.identity.tenant === null ? null : intern(event.identity.tenant),
    name: internOrNull(event.identity.service ?? event.identity.user),
    ref: internOrNull(event.identity.credential.ref),
  }),
  onEvent(s, event, ctx, key) {
    if (s.nets === undefined) upgrade(s);
    const cfg = ctx.config;
    const idx = Math.floor(event.ts / (cfg.windowSeconds * 1000));
    if (idx > s.windowIdx) roll(s, idx);
    const ref = event.identity.credential.ref;
    // Interned when it changes: the state keeps one shared copy, not the event's string.
    if (ref !== null && ref !== s.ref) s.ref = intern(ref);
    const ip = event.client.ip ?? event.client.peerIp;
    // Most calls come from the address of the previous one: no hashing for them.
    if (ip === s.lastIp) return undefined;
    s.lastIp = ip;
    if (!s.addresses.add(hash32(ipNet(ip)))) return undefined;
    const net = net24(ip);
    const nh = hash32(net);
    const fresh = s.networks.add(nh);
    if (fresh && s.windowNetCount < KNOWN_NETS) {
      if (s.windowNetCount === s.nets.length / 3) grow(s);
      s.nets[(2 * s.nets.length) / 3 + s.windowNetCount++] = nh | 0;
    }
    if (fresh && knownAt(s, nh) < 0) {
      s.newNetworks++;
      s.lastNew = event.ts;
      s.newNetSamples ??= [];
      if (s.newNetSamples.length < 6) s.newNetSamples.push(net);
    }
    // Samples only serve a finding: never in the first window (not judged), and not before the
    // window has a new network (a hit needs minNewNetworks >= 1) unless an episode is open.
    if (s.activeWindows > 0 && (s.newNetworks > 0 || s.raisedAt > 0)) {
      s.samples ??= [];
      if (s.samples.length < 10) s.samples.push(event.id);
    }
    const addresses = s.addresses.count;
    if (s.raisedAt > 0) {
      s.observed = Math.max(s.observed, addresses);
      ctx.wakeAt(s.lastNew + cfg.quietSeconds * 1000);
      return undefined;
    }
    // The first window of a credential is where its habit is discovered: never judged.
    if (s.activeWindows === 0) return undefined;
    const learned = s.activeWindows >= cfg.learnWindows;
    const threshold = Math.max(
      learned ? cfg.minAddresses : cfg.coldMinAddresses,
      Math.ceil(cfg.historyMultiplier * s.peak),
    );
    const hit =
      addresses >= threshold &&
      s.newNetworks >= cfg.minNewNetworks &&
      (learned || s.networks.count >= cfg.coldMinNetworks);
    if (!hit) return undefined;
    s.raisedAt = event.ts;
    s.observed = addresses;
    s.threshold = threshold;
    s.endpoint = endpointOf(event);
    ctx.wakeAt(s.lastNew + cfg.quietSeconds * 1000);
    return [draft(s, key, cfg, learned, 'firing')];
  },
  onWatermark(s, ts, ctx, key) {
    if (s.nets === undefined) upgrade(s);
    if (s.raisedAt === 0) return undefined;
    if (ts - s.lastNew < ctx.config.quietSeconds * 1000) {
      ctx.wakeAt(s.lastNew + ctx.config.quietSeconds * 1000);
      return undefined;
    }
    const out = [draft(s, key, ctx.config, s.activeWindows >= ctx.config.learnWindows, 'resolved')];
    s.raisedAt = 0;
    return out;
  },
  // A credential's learned habit outlives a holiday; the cap's LRU bounds the rest.
  idleMs: () => 14 * 86_400_000,
  sizeOf: (s) =>
    180 +
    s.nets.length * 8 +
    s.addresses.bytes +
    s.networks.bytes +
    (s.samples?.length ?? 0) * 40 +
    (s.newNetSamples?.length ?? 0) * 40 +
    s.endpoint.length * 2,
});

/** A state from a checkpoint taken before decision 0026's packing: `known`, `knownWindow`, `windowNets` arrays. */
function upgrade(s: AbuseState): void {
  const old = s as unknown as { known?: number[]; knownWindow?: number[]; windowNets?: number[] };
  const known = old.known ?? [];
  const windowNets = old.windowNets ?? [];
  s.nets = zeros(3 * KNOWN_NETS);
  s.knownCount = Math.min(known.length, KNOWN_NETS);
  s.windowNetCount = Math.min(windowNets.length, KNOWN_NETS);
  for (let i = 0; i < s.knownCount; i++) {
    s.nets[i] = known[i]! | 0;
    s.nets[KNOWN_NETS + i] = old.knownWindow?.[i] ?? 0;
  }
  for (let i = 0; i < s.windowNetCount; i++) s.nets[2 * KNOWN_NETS + i] = windowNets[i]! | 0;
  delete old.known;
  delete old.knownWindow;
  delete old.windowNets;
}

/** Where the network hash `h` is among the known ones, or -1. */
function knownAt(s: AbuseState, h: number): number {
  const v = h | 0;
  for (let i = 0; i < s.knownCount; i++) if (s.nets[i] === v) return i;
  return -1;
}

/** Closes a window: learn its networks and its address count (unless an episode was open). */
function roll(s: AbuseState, idx: number): void {
  if (s.windowIdx >= 0 && s.raisedAt === 0) {
    const n = s.addresses.count;
    s.peak = Math.max(n, s.peak * 0.97);
    s.activeWindows++;
    // Networks of this window join the known set (least recently seen replaced).
    for (let w = 0; w < s.windowNetCount; w++) {
      const h = s.nets[(2 * s.nets.length) / 3 + w]!;
      const i = knownAt(s, h);
      if (i >= 0) s.nets[s.nets.length / 3 + i] = s.windowIdx;
      else if (s.knownCount < KNOWN_NETS) {
        if (s.knownCount === s.nets.length / 3) grow(s);
        s.nets[s.knownCount] = h;
        s.nets[s.nets.length / 3 + s.knownCount] = s.windowIdx;
        s.knownCount++;
      } else {
        const nets = s.nets;
        const at = nets.length / 3;
        let oldest = 0;
        for (let j = 1; j < s.knownCount; j++) if (nets[at + j]! < nets[at + oldest]!) oldest = j;
        nets[oldest] = h;
        nets[at + oldest] = s.windowIdx;
      }
    }
  }
  s.windowIdx = idx;
  s.lastIp = null;
  s.addresses.clear();
  s.networks.clear();
  s.windowNetCount = 0;
  s.newNetworks = 0;
  s.newNetSamples = null;
  if (s.raisedAt === 0) s.samples = null;
}

function draft(
  s: AbuseState,
  key: string,
  cfg: CredentialAbuseConfig,
  learned: boolean,
  status: 'firing' | 'resolved',
): FindingDraft {
  const entity = actorFindingEntity(key, null);
  entity.name = s.name ?? entity.name;
  entity.ref = s.ref;
  const space = s.endpoint.indexOf(' ');
  const who =
    entity.name && entity.name !== entity.id
      ? `${entity.kind} ${entity.name} (${entity.id})`
      : `${entity.kind} ${entity.id}`;
  const habit = learned
    ? `its usual peak is ${Math.round(s.peak)} per ${formatSpan(cfg.windowSeconds)}`
    : 'it has no history yet';
  const summary =
    `${who} was used from ${s.observed} addresses in ${s.newNetworks} new networks (${listForHumans(s.newNetSamples ?? [], s.newNetworks)}) within ${formatSpan(cfg.windowSeconds)}; ${habit} — stolen or replayed credential.` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.lastNew } : {}),
    entity,
    route: s.endpoint.slice(space + 1),
    method: s.endpoint.slice(0, space),
    tenant: s.tenant,
    confidence: learned
      ? Math.min(0.95, 0.7 + 0.05 * Math.log2(1 + s.observed / Math.max(1, s.threshold)))
      : 0.6,
    summary,
    firstSeen: s.raisedAt - (s.raisedAt % (cfg.windowSeconds * 1000)),
    lastSeen: status === 'resolved' ? s.lastNew : s.raisedAt,
    evidence: {
      observed: s.observed,
      baseline: learned ? Math.round(s.peak) : null,
      threshold: s.threshold,
      windowSeconds: cfg.windowSeconds,
      counts: {
        addresses: s.observed,
        newNetworks: s.newNetworks,
        knownNetworks: s.knownCount,
        learnedWindows: s.activeWindows,
      },
      sampleEventIds: s.samples?.slice(0, 10) ?? [],
      details: {
        newNetworks: s.newNetSamples ?? [],
        baselineKind: learned ? 'own_history' : 'static_fallback',
      },
    },
    recommendedAction: `Revoke or rotate ${s.ref ? `credential ${s.ref}` : 'this credential'}${s.name ? ` of ${s.name}` : ''}, issue a new one to its owner, and review its calls from the new networks.`,
  };
}
