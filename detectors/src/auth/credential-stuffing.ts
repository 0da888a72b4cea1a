import type { ApiEvent } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import {
  formatSpan,
  ipNet,
  listForHumans,
  loginOutcome,
  pushSample,
  splitEndpoint,
  targetAccount,
} from './common.ts';
import { BitCounter, Hll, hash32, hllEstimate, linearCount, popcount32 } from './sketch.ts';

export const CredentialStuffingConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 60,
      maximum: 86_400,
      default: 600,
      description: 'Look-back for distinct failing accounts, event time (Elastic: 15 min; Splunk: 5 min).',
    }),
    minAccounts: T.Integer({
      minimum: 3,
      maximum: 100_000,
      default: 20,
      description:
        'Distinct accounts one source failed for, and did not later log in to, within the window (Elastic ≥15, Splunk >9).',
    }),
    poolMinAccounts: T.Integer({
      minimum: 5,
      maximum: 1_000_000,
      default: 50,
      description: 'The same, summed over a rotating pool of sources on one login endpoint.',
    }),
    poolMinSources: T.Integer({
      minimum: 2,
      maximum: 100_000,
      default: 3,
      description:
        'Distinct failing source networks a pool needs. Low on purpose: the pool must also be spread (no source with half of it), and its unrecovered accounts carry the weight (Splunk distributed: >20 IPs at 5 min).',
    }),
    unrecoveredPerSuccess: T.Number({
      minimum: 0,
      maximum: 10,
      default: 0.1,
      description:
        'NAT allowance: the account threshold grows by this much per successful login from the same source (pool: endpoint) in the window, so an office or carrier NAT with many users and a few typos each stays quiet.',
    }),
    maxAttemptsPerAccount: T.Number({
      minimum: 1,
      maximum: 100,
      default: 3,
      description:
        'Stuffing tries each account about once; more tries per account is brute force or a retry storm (Elastic: ≤2 per user).',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      maximum: 86_400,
      default: 600,
      description: 'An episode ends (resolved update) after this long without a qualifying failure.',
    }),
    accountlessPerSuccess: T.Number({
      minimum: 0,
      maximum: 100,
      default: 0.5,
      description:
        'When the log names no account (form or JSON logins), typos cannot be matched to their recovery: the failure threshold grows by this much per anonymous login success from the source (pool: endpoint).',
    }),
    accountlessMinFailuresAfterSuccess: T.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 3,
      description:
        'Without account names, stuffing is told from brute force by what follows a success: a brute forcer stops at the account it cracked, a stuffer logs in and keeps failing on the next accounts.',
    }),
  },
  { additionalProperties: false },
);
export type CredentialStuffingConfig = Static<typeof CredentialStuffingConfig>;

/** Accounts tracked exactly per source; past it, more failing accounts are extrapolated. */
const ACCOUNT_CAP = 40;
/** Failing sources tracked per endpoint (least recently failing replaced first). */
const SOURCE_SLOTS = 8;
const POOL_BITS = 512;
const SAMPLES = 5;

interface SourceSlot {
  net: string;
  /** Parallel arrays: account hash, event time (minutes) of its last failure, tries (low bits) + recovered flag (bit 8). */
  accounts: number[];
  failMinute: number[];
  tries: number[];
  /** Failing accounts past ACCOUNT_CAP in the window, not tracked one by one. */
  overflow: number;
  failures: number;
  /** Successful logins from this source: two tumbling halves of the window. */
  okPrev: number;
  okCur: number;
  okGen: number;
  firstFail: number;
  lastFail: number;
  sampleAccounts: string[];
  succeeded: string[];
  userAgent: string | null;
  episode: Episode | null;
  /** Login attempts that named no account: failures, successes, and failures after the first success. */
  anonFailures: number;
  anonOk: number;
  anonAfterOk: number;
}

interface Episode {
  start: number;
  lastHit: number;
  observed: number;
  sampleEventIds: string[];
}

interface PoolGen {
  gen: number;
  failures: number;
  successes: number;
  failedAccounts: BitCounter;
  recoveredAccounts: BitCounter;
  sources: Hll;
  anonFailures: number;
  anonSuccesses: number;
}

interface StuffingState {
  endpoint: string;
  tenant: string | null;
  slots: SourceSlot[];
  pool: [PoolGen, PoolGen];
  poolEpisode: (Episode & { sources: number; topSources: string[]; successes: number }) | null;
  poolSamples: string[];
}

const newGen = (gen: number): PoolGen => ({
  gen,
  failures: 0,
  successes: 0,
  failedAccounts: new BitCounter(POOL_BITS),
  recoveredAccounts: new BitCounter(POOL_BITS),
  sources: new Hll(5),
  anonFailures: 0,
  anonSuccesses: 0,
});

/**
 * `auth.credential_stuffing`: many distinct accounts failing from one source, or from a rotating
 * pool of sources on one login endpoint, each tried about once (OAT-008).
 *
 * The key is the login endpoint (global scope: the second stage sees every source's attempts on
 * it, and the successes that tell a NAT from an attacker). Per endpoint it keeps the 8 most
 * recently failing source networks with their failing accounts (exact up to 40) and whether each
 * later logged in from there, plus two half-window bitmaps of failing and recovered accounts and
 * an HLL of failing networks for the pool.
 *
 * NAT awareness: an account that fails and then logs in from the same source is a typo, not a
 * victim; the threshold grows with the source's successful logins, so hundreds of users behind
 * one office or carrier IP, each mistyping now and then, stay under it.
 */
export const credentialStuffing = defineDetector({
  id: 'auth.credential_stuffing',
  title: 'Credential stuffing',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: CredentialStuffingConfig,
  scope: 'global',
  fingerprint: ['entity', 'route'],
  keyBy(event: ApiEvent): string | null {
    if (outcomeOf(event) === null) return null;
    return `${event.identity.tenant ?? ''}|${event.request.method} ${event.request.route ?? '(unrouted)'}`;
  },
  init(key: string, event: ApiEvent): StuffingState {
    const gen = Math.floor(event.ts / 300_000);
    return {
      endpoint: key.slice(key.indexOf('|') + 1),
      tenant: event.identity.tenant,
      slots: [],
      pool: [newGen(gen - 1), newGen(gen)],
      poolEpisode: null,
      poolSamples: [],
    };
  },
  onEvent(s, event, ctx) {
    const cfg = ctx.config;
    const windowMs = cfg.windowSeconds * 1000;
    const halfMs = windowMs / 2;
    const outcome = outcomeOf(event)!;
    const account = targetAccount(event);
    const h = account === null ? 0 : hash32(account);
    const net = ipNet(event.client.ip ?? event.client.peerIp);
    const minute = Math.floor(event.ts / 60_000);
    const out: FindingDraft[] = [];
    const pool = rollPool(s, event.ts, halfMs);

    if (account === null) {
      const slot =
        outcome === 'failure' ? slotFor(s, net, event.ts, windowMs) : s.slots.find((x) => x.net === net);
      if (outcome === 'success') {
        pool.anonSuccesses++;
        if (slot) slot.anonOk++;
        return undefined;
      }
      pool.anonFailures++;
      pool.sources.add(hash32(net));
      s.poolSamples.push(event.id);
      if (s.poolSamples.length > 10) s.poolSamples.shift();
      slot!.anonFailures++;
      slot!.failures++;
      slot!.lastFail = event.ts;
      if (slot!.anonOk > 0) slot!.anonAfterOk++;
      if (!slot!.userAgent) slot!.userAgent = event.client.userAgent;
      return judgeAndRaise(s, slot!, event, cfg, ctx.wakeAt);
    }

    if (outcome === 'success') {
      pool.successes++;
      const failedInWindow = s.pool[0].failedAccounts.has(h) || s.pool[1].failedAccounts.has(h);
      if (failedInWindow) pool.recoveredAccounts.set(h);
      const slot = s.slots.find((x) => x.net === net);
      if (slot) {
        rollOk(slot, event.ts, halfMs);
        slot.okCur++;
        const i = slot.accounts.indexOf(h);
        if (
          i >= 0 &&
          (slot.tries[i]! & 256) === 0 &&
          minute - slot.failMinute[i]! <= cfg.windowSeconds / 60
        ) {
          slot.tries[i] = slot.tries[i]! | 256;
        } else if (i < 0 && slot.episode) {
          pushSample(slot.succeeded, account, SAMPLES);
        }
      }
      return undefined;
    }

    // A failure.
    pool.failures++;
    pool.failedAccounts.set(h);
    pool.sources.add(hash32(net));
    s.poolSamples.push(event.id);
    if (s.poolSamples.length > 10) s.poolSamples.shift();
    const slot = slotFor(s, net, event.ts, windowMs);
    slot.failures++;
    slot.lastFail = event.ts;
    if (!slot.userAgent) slot.userAgent = event.client.userAgent;
    expire(slot, minute, cfg.windowSeconds / 60);
    const i = slot.accounts.indexOf(h);
    if (i >= 0) {
      slot.failMinute[i] = minute;
      if ((slot.tries[i]! & 255) < 255) slot.tries[i] = slot.tries[i]! + 1;
    } else if (slot.accounts.length < ACCOUNT_CAP) {
      slot.accounts.push(h);
      slot.failMinute.push(minute);
      slot.tries.push(1);
      pushSample(slot.sampleAccounts, account, SAMPLES);
    } else {
      slot.overflow++;
    }

    return judgeAndRaise(s, slot, event, cfg, ctx.wakeAt);
  },
  onWatermark(s, ts, ctx) {
    const cfg = ctx.config;
    const quietMs = cfg.quietSeconds * 1000;
    const out: FindingDraft[] = [];
    for (const slot of s.slots) {
      if (slot.episode && ts - slot.episode.lastHit >= quietMs) {
        out.push(
          sourceDraft(
            s,
            slot,
            null,
            slot.anonFailures > slot.accounts.length + slot.overflow
              ? judgeAnonSource(slot, cfg)
              : judgeSource(slot, cfg, slot.lastFail, cfg.windowSeconds * 500),
            cfg,
            'resolved',
          ),
        );
        slot.episode = null;
      }
    }
    if (s.poolEpisode && ts - s.poolEpisode.lastHit >= quietMs) {
      out.push(poolDraft(s, ts, null, cfg, 'resolved'));
      s.poolEpisode = null;
    }
    armTimer(s, ctx.wakeAt, quietMs);
    return out;
  },
  idleMs: (c) => (c.windowSeconds + c.quietSeconds) * 1000,
  sizeOf(s) {
    let n = 96 + s.endpoint.length * 2 + 2 * (16 + 2 * (POOL_BITS / 8 + 16) + 48);
    for (const slot of s.slots) {
      n += 120 + slot.net.length * 2 + slot.accounts.length * 24;
      n += [...slot.sampleAccounts, ...slot.succeeded].reduce((a, x) => a + 16 + x.length * 2, 0);
      if (slot.episode) n += 64 + slot.episode.sampleEventIds.length * 40;
    }
    if (s.poolEpisode) n += 200;
    return n;
  },
});

/**
 * A password login that names its account (see loginOutcome), or a form/JSON login that names
 * none: a POST without a credential that failed authentication or was answered 2xx.
 */
function outcomeOf(event: ApiEvent): 'failure' | 'success' | null {
  const named = loginOutcome(event);
  if (named) return named;
  const id = event.identity;
  if (id.credential.kind !== 'none' || id.user !== null || event.request.method !== 'POST') return null;
  if (id.auth === 'failure') return 'failure';
  const status = event.response.status;
  return status >= 200 && status < 300 ? 'success' : null;
}

/** After a failure: judge its source and the pool, raise what newly holds, keep the timers armed. */
function judgeAndRaise(
  s: StuffingState,
  slot: SourceSlot,
  event: ApiEvent,
  cfg: CredentialStuffingConfig,
  wakeAt: (ts: number) => void,
): FindingDraft[] {
  const out: FindingDraft[] = [];
  const windowMs = cfg.windowSeconds * 1000;
  const named = judgeSource(slot, cfg, event.ts, windowMs / 2);
  const anon = judgeAnonSource(slot, cfg);
  const single = named.hit || !anon.hit ? named : anon;
  if (single.hit && !slot.episode) {
    slot.episode = {
      start: slot.firstFail,
      lastHit: event.ts,
      observed: single.unrecovered,
      sampleEventIds: [event.id],
    };
    out.push(sourceDraft(s, slot, event, single, cfg, 'firing'));
  }
  if (slot.episode) {
    slot.episode.lastHit = event.ts;
    slot.episode.observed = Math.max(slot.episode.observed, single.unrecovered);
    if (slot.episode.sampleEventIds.length < 10) slot.episode.sampleEventIds.push(event.id);
  }
  const named2 = judgePool(s, cfg);
  const p = named2.hit ? named2 : judgeAnonPool(s, cfg);
  if (p.hit && !s.poolEpisode) {
    const top = [...s.slots].sort((a, b) => b.failures - a.failures).map((x) => x.net);
    s.poolEpisode = {
      start: Math.max(earliestFailure(s, event.ts - windowMs), event.ts - windowMs),
      lastHit: event.ts,
      observed: p.unrecovered,
      sampleEventIds: [...s.poolSamples],
      sources: p.sources,
      topSources: top.slice(0, 5),
      successes: p.successes,
    };
    out.push(poolDraft(s, event.ts, p, cfg, 'firing'));
  } else if (p.hit && s.poolEpisode) {
    s.poolEpisode.lastHit = event.ts;
    s.poolEpisode.observed = Math.max(s.poolEpisode.observed, p.unrecovered);
    s.poolEpisode.sources = Math.max(s.poolEpisode.sources, p.sources);
  }
  armTimer(s, wakeAt, cfg.quietSeconds * 1000);
  return out;
}

/**
 * One source's logins that named no account: many failures, at least one success, and failures
 * that went on after it (a brute forcer stops at its account; a stuffer moves to the next), with
 * an allowance per success for a NAT's typos.
 */
function judgeAnonSource(slot: SourceSlot, cfg: CredentialStuffingConfig): SourceJudgement {
  const threshold = cfg.minAccounts + cfg.accountlessPerSuccess * slot.anonOk;
  return {
    hit:
      slot.anonFailures >= threshold &&
      slot.anonOk >= 1 &&
      slot.anonAfterOk >= cfg.accountlessMinFailuresAfterSuccess,
    failingAccounts: slot.anonFailures,
    unrecovered: slot.anonFailures,
    recovered: 0,
    successes: slot.anonOk,
    threshold,
    triesPerAccount: Number.NaN,
  };
}

/** The pool's logins that named no account: failures from many networks far above its successes. */
function judgeAnonPool(s: StuffingState, cfg: CredentialStuffingConfig): PoolJudgement {
  const [a, b] = s.pool;
  const failures = a.anonFailures + b.anonFailures;
  const successes = a.anonSuccesses + b.anonSuccesses;
  for (let i = 0; i < 32; i++)
    scratchRegisters[i] = Math.max(a.sources.registers[i]!, b.sources.registers[i]!);
  const sources = Math.round(hllEstimate(scratchRegisters));
  const threshold = cfg.poolMinAccounts + cfg.accountlessPerSuccess * successes;
  let top = 0;
  for (const slot of s.slots) top = Math.max(top, slot.anonFailures);
  const topShare = failures > 0 ? top / failures : 1;
  return {
    hit: failures >= threshold && sources >= cfg.poolMinSources && topShare < 0.5,
    failingAccounts: failures,
    unrecovered: failures,
    failures,
    successes,
    sources,
    threshold,
    topShare,
  };
}

function rollPool(s: StuffingState, ts: number, halfMs: number): PoolGen {
  const gen = Math.floor(ts / halfMs);
  const [prev, cur] = s.pool;
  if (gen <= cur.gen) return gen === cur.gen ? cur : gen === prev.gen ? prev : cur;
  if (gen === cur.gen + 1) {
    s.pool = [cur, resetGen(prev, gen)];
  } else {
    s.pool = [resetGen(prev, gen - 1), resetGen(cur, gen)];
  }
  return s.pool[1];
}

function resetGen(g: PoolGen, gen: number): PoolGen {
  g.gen = gen;
  g.failures = 0;
  g.successes = 0;
  g.failedAccounts.clear();
  g.recoveredAccounts.clear();
  g.sources.clear();
  g.anonFailures = 0;
  g.anonSuccesses = 0;
  return g;
}

function rollOk(slot: SourceSlot, ts: number, halfMs: number): void {
  const gen = Math.floor(ts / halfMs);
  if (gen === slot.okGen) return;
  slot.okPrev = gen === slot.okGen + 1 ? slot.okCur : 0;
  slot.okCur = 0;
  slot.okGen = gen;
}

/** The slot of a failing source: its own, a free one, else the least recently failing one without an open episode. */
function slotFor(s: StuffingState, net: string, ts: number, windowMs: number): SourceSlot {
  const own = s.slots.find((x) => x.net === net);
  if (own) {
    if (!own.episode && ts - own.lastFail > windowMs) resetSlot(own, net, ts);
    return own;
  }
  if (s.slots.length < SOURCE_SLOTS) {
    const slot = resetSlot({} as SourceSlot, net, ts);
    s.slots.push(slot);
    return slot;
  }
  let victim: SourceSlot | null = null;
  for (const x of s.slots) {
    if (x.episode) continue;
    if (!victim || x.lastFail < victim.lastFail) victim = x;
  }
  if (!victim) {
    for (const x of s.slots) if (!victim || x.lastFail < victim.lastFail) victim = x;
  }
  return resetSlot(victim!, net, ts);
}

function resetSlot(slot: SourceSlot, net: string, ts: number): SourceSlot {
  slot.net = net;
  slot.accounts = [];
  slot.failMinute = [];
  slot.tries = [];
  slot.overflow = 0;
  slot.failures = 0;
  slot.okPrev = 0;
  slot.okCur = 0;
  slot.okGen = 0;
  slot.firstFail = ts;
  slot.lastFail = ts;
  slot.sampleAccounts = [];
  slot.succeeded = [];
  slot.userAgent = null;
  slot.episode = null;
  slot.anonFailures = 0;
  slot.anonOk = 0;
  slot.anonAfterOk = 0;
  return slot;
}

/** Drops accounts whose last failure left the window (and the overflow with them, once all left). */
function expire(slot: SourceSlot, minute: number, windowMinutes: number): void {
  let w = 0;
  for (let r = 0; r < slot.accounts.length; r++) {
    if (minute - slot.failMinute[r]! > windowMinutes) continue;
    slot.accounts[w] = slot.accounts[r]!;
    slot.failMinute[w] = slot.failMinute[r]!;
    slot.tries[w] = slot.tries[r]!;
    w++;
  }
  if (w < slot.accounts.length) {
    slot.accounts.length = w;
    slot.failMinute.length = w;
    slot.tries.length = w;
    if (w < ACCOUNT_CAP) slot.overflow = 0;
  }
}

interface SourceJudgement {
  hit: boolean;
  failingAccounts: number;
  unrecovered: number;
  recovered: number;
  successes: number;
  threshold: number;
  triesPerAccount: number;
}

function judgeSource(
  slot: SourceSlot,
  cfg: CredentialStuffingConfig,
  ts: number,
  halfMs: number,
): SourceJudgement {
  rollOk(slot, ts, halfMs);
  let recovered = 0;
  let tries = 0;
  for (const t of slot.tries) {
    if (t & 256) recovered++;
    tries += t & 255;
  }
  const tracked = slot.accounts.length;
  // Past the cap, assume the untracked accounts recover as often as the tracked ones.
  const recoveredShare = tracked ? recovered / tracked : 0;
  const unrecovered = tracked - recovered + Math.round(slot.overflow * (1 - recoveredShare));
  const successes = slot.okPrev + slot.okCur;
  const threshold = cfg.minAccounts + cfg.unrecoveredPerSuccess * successes;
  const triesPerAccount = tracked ? tries / tracked : 0;
  return {
    hit: unrecovered >= threshold && triesPerAccount <= cfg.maxAttemptsPerAccount,
    failingAccounts: tracked + slot.overflow,
    unrecovered,
    recovered,
    successes,
    threshold,
    triesPerAccount,
  };
}

interface PoolJudgement {
  hit: boolean;
  failingAccounts: number;
  unrecovered: number;
  failures: number;
  successes: number;
  sources: number;
  threshold: number;
  topShare: number;
}

const scratchRegisters = new Uint8Array(32);

function judgePool(s: StuffingState, cfg: CredentialStuffingConfig): PoolJudgement {
  const [a, b] = s.pool;
  const n = POOL_BITS;
  let failedBits = 0;
  let failedAndRecoveredBits = 0;
  for (let i = 0; i < a.failedAccounts.words.length; i++) {
    const f = a.failedAccounts.words[i]! | b.failedAccounts.words[i]!;
    const r = a.recoveredAccounts.words[i]! | b.recoveredAccounts.words[i]!;
    failedBits += popcount32(f);
    failedAndRecoveredBits += popcount32(f & r);
  }
  const failingAccounts = linearCount(n, failedBits);
  const recovered = linearCount(n, failedAndRecoveredBits);
  const unrecovered = Math.max(0, Math.round(failingAccounts - recovered));
  for (let i = 0; i < 32; i++)
    scratchRegisters[i] = Math.max(a.sources.registers[i]!, b.sources.registers[i]!);
  const sources = Math.round(hllEstimate(scratchRegisters));
  const failures = a.failures + b.failures;
  const successes = a.successes + b.successes;
  const threshold = cfg.poolMinAccounts + cfg.unrecoveredPerSuccess * successes;
  let top = 0;
  for (const slot of s.slots)
    top = Math.max(top, slot.accounts.length - countRecovered(slot) + slot.overflow);
  const topShare = unrecovered > 0 ? top / unrecovered : 1;
  return {
    hit:
      unrecovered >= threshold &&
      sources >= cfg.poolMinSources &&
      failures / Math.max(1, failingAccounts) <= cfg.maxAttemptsPerAccount &&
      // One source behind most of it is the single-source finding, not a pool.
      topShare < 0.5,
    failingAccounts: Math.round(failingAccounts),
    unrecovered,
    failures,
    successes,
    sources,
    threshold,
    topShare,
  };
}

function countRecovered(slot: SourceSlot): number {
  let n = 0;
  for (const t of slot.tries) if (t & 256) n++;
  return n;
}

function earliestFailure(s: StuffingState, floor: number): number {
  let t = Number.POSITIVE_INFINITY;
  for (const slot of s.slots) if (slot.lastFail >= floor) t = Math.min(t, slot.firstFail);
  return Number.isFinite(t) ? t : floor;
}

function armTimer(s: StuffingState, wakeAt: (ts: number) => void, quietMs: number): void {
  let next = Number.POSITIVE_INFINITY;
  for (const slot of s.slots) if (slot.episode) next = Math.min(next, slot.episode.lastHit + quietMs);
  if (s.poolEpisode) next = Math.min(next, s.poolEpisode.lastHit + quietMs);
  if (Number.isFinite(next)) wakeAt(next);
}

function sourceDraft(
  s: StuffingState,
  slot: SourceSlot,
  event: ApiEvent | null,
  j: SourceJudgement,
  cfg: CredentialStuffingConfig,
  status: 'firing' | 'resolved',
): FindingDraft {
  const { method, route } = splitEndpoint(s.endpoint);
  const ep = slot.episode!;
  const observed = status === 'resolved' ? ep.observed : j.unrecovered;
  const succeeded = slot.succeeded.length;
  const span = Math.max(1, (ep.lastHit - ep.start) / 1000);
  const anon = Number.isNaN(j.triesPerAccount);
  const summary = anon
    ? `ip ${slot.net} failed ${observed} logins in ${formatSpan(span)} on ${s.endpoint} (accounts not logged), logged in ${j.successes} time${j.successes === 1 ? '' : 's'} and kept failing after — credential stuffing.` +
      (status === 'resolved' ? ' The episode ended.' : '')
    : `ip ${slot.net} failed logins for ${observed} distinct accounts in ${formatSpan(Math.min(span, cfg.windowSeconds))} on ${s.endpoint}` +
      `${succeeded > 0 ? `, ${succeeded} other account${succeeded === 1 ? '' : 's'} logged in from it (${listForHumans(slot.succeeded, succeeded)})` : ''}` +
      ` — credential stuffing (${j.triesPerAccount.toFixed(1)} tries per account; accounts tried include ${listForHumans(slot.sampleAccounts, j.failingAccounts)}).` +
      (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: ep.lastHit } : {}),
    entity: { kind: 'ip', id: slot.net, name: slot.net, ref: null },
    route,
    method,
    tenant: s.tenant,
    severity: succeeded > 0 || (anon && j.successes > 0) ? 'critical' : 'high',
    confidence: Math.min(0.99, 0.7 + 0.05 * Math.log2(1 + observed / Math.max(1, j.threshold))),
    summary,
    firstSeen: ep.start,
    lastSeen: status === 'resolved' ? ep.lastHit : (event?.ts ?? ep.lastHit),
    evidence: {
      observed,
      baseline: null,
      threshold: Math.ceil(j.threshold),
      windowSeconds: cfg.windowSeconds,
      counts: {
        failingAccounts: j.failingAccounts,
        unrecoveredAccounts: j.unrecovered,
        recoveredAccounts: j.recovered,
        failures: slot.failures,
        successesFromSource: j.successes,
        succeededOtherAccounts: succeeded,
      },
      sampleEventIds: ep.sampleEventIds.slice(0, 10),
      details: {
        source: slot.net,
        userAgent: slot.userAgent,
        sampleAccounts: slot.sampleAccounts,
        succeededAccounts: slot.succeeded,
        triesPerAccount: anon ? null : Number(j.triesPerAccount.toFixed(2)),
        accountsLogged: !anon,
        natAllowance: `threshold ${cfg.minAccounts} + ${cfg.unrecoveredPerSuccess} per successful login from the source`,
      },
    },
    recommendedAction: `Block or challenge ${slot.net} on ${s.endpoint}, force a password reset for ${succeeded > 0 ? 'the accounts that logged in from it' : 'any account that logs in from it'}, and check the tried accounts against breached-credential lists.`,
    labels: { pattern: 'single_source' },
  };
}

function poolDraft(
  s: StuffingState,
  ts: number,
  p: PoolJudgement | null,
  cfg: CredentialStuffingConfig,
  status: 'firing' | 'resolved',
): FindingDraft {
  const { method, route } = splitEndpoint(s.endpoint);
  const ep = s.poolEpisode!;
  const observed = ep.observed;
  const summary =
    `${ep.sources} rotating source networks failed ${s.pool[0].anonFailures + s.pool[1].anonFailures > observed / 2 ? `${observed} logins (accounts not logged)` : `logins for ${observed} distinct accounts`} in ${formatSpan(cfg.windowSeconds)} on ${s.endpoint}` +
    ` — distributed credential stuffing (top sources ${listForHumans(ep.topSources, ep.sources)}).` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: ep.lastHit } : {}),
    entity: { kind: 'endpoint', id: s.endpoint, name: s.endpoint, ref: null },
    route,
    method,
    tenant: s.tenant,
    severity: 'high',
    confidence: p
      ? Math.min(0.95, 0.6 + 0.05 * Math.log2(1 + p.unrecovered / Math.max(1, p.threshold)))
      : 0.7,
    summary,
    firstSeen: ep.start,
    lastSeen: status === 'resolved' ? ep.lastHit : ts,
    evidence: {
      observed,
      baseline: null,
      threshold: Math.ceil(p?.threshold ?? cfg.poolMinAccounts),
      windowSeconds: cfg.windowSeconds,
      counts: {
        unrecoveredAccounts: observed,
        failingAccounts: p?.failingAccounts ?? observed,
        failingSources: ep.sources,
        failures: p?.failures ?? 0,
        successes: p?.successes ?? ep.successes,
      },
      sampleEventIds: ep.sampleEventIds.slice(0, 10),
      details: { topSources: ep.topSources },
    },
    recommendedAction: `Turn on bot challenges or stricter rate limits on ${s.endpoint}, block the listed sources' networks, and force resets for accounts that logged in during the episode.`,
    labels: { pattern: 'rotating_pool' },
  };
}
