import type { ApiEvent } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import {
  endpointOf,
  formatSpan,
  ipNet,
  listForHumans,
  loginOutcome,
  splitEndpoint,
  targetAccount,
} from './common.ts';
import { hash32 } from './sketch.ts';

export const SuccessAfterFailuresConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 900,
      description: 'Failures on the account count while each comes within this long of the previous one.',
    }),
    minFailures: T.Integer({
      minimum: 2,
      maximum: 10_000,
      default: 5,
      description:
        'Failures before the success (Elastic: 5 then a success; Entra locks out at 10). A user’s own 2–3 typos stay below it.',
    }),
    minFailuresDistributed: T.Integer({
      minimum: 2,
      maximum: 10_000,
      default: 3,
      description: 'Fewer failures suffice when they came from at least minNetworks different networks.',
    }),
    minNetworks: T.Integer({
      minimum: 2,
      maximum: 64,
      default: 3,
      description: 'Distinct source networks among the failures for the distributed rule.',
    }),
    quietSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 900,
      description:
        'The episode ends (resolved update) after this long without a failure or success on the account.',
    }),
  },
  { additionalProperties: false },
);
export type SuccessAfterFailuresConfig = Static<typeof SuccessAfterFailuresConfig>;

const MAX_NETS = 8;

interface AccountState {
  failures: number;
  firstFail: number;
  lastFail: number;
  /** Hashes and names of the networks the failures came from (capped). */
  netHashes: number[];
  nets: string[];
  endpoint: string;
  samples: string[];
  raisedAt: number;
  lastActivity: number;
  success: { net: string; ts: number; endpoint: string; ref: string | null; id: string } | null;
  failuresBefore: number;
  tenant: string | null;
}

/**
 * `auth.success_after_failures`: an account logs in after a burst of failed attempts — a guess
 * that worked, a possible compromise. Keyed by the target account (global scope: its failures
 * come from attacker origins, its success from wherever the attacker logged in). Judged per
 * account, so an office or carrier NAT with many users and a few typos each raises nothing.
 * Severity critical when the failures came from several networks or ran long.
 */
export const successAfterFailures = defineDetector({
  id: 'auth.success_after_failures',
  title: 'Login success after a burst of failures',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: SuccessAfterFailuresConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy(event: ApiEvent): string | null {
    return loginOutcome(event) === null ? null : `${event.identity.tenant ?? ''}|${targetAccount(event)}`;
  },
  init: (_key, event): AccountState => ({
    failures: 0,
    firstFail: event.ts,
    lastFail: 0,
    netHashes: [],
    nets: [],
    endpoint: endpointOf(event),
    samples: [],
    raisedAt: 0,
    lastActivity: event.ts,
    success: null,
    failuresBefore: 0,
    tenant: event.identity.tenant,
  }),
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const out: FindingDraft[] = [];
    s.lastActivity = Math.max(s.lastActivity, event.ts);
    const net = ipNet(event.client.ip ?? event.client.peerIp);
    if (loginOutcome(event) === 'failure') {
      if (s.raisedAt === 0 && event.ts - s.lastFail > cfg.windowSeconds * 1000) resetFailures(s, event);
      s.failures++;
      s.lastFail = Math.max(s.lastFail, event.ts);
      const h = hash32(net);
      if (s.netHashes.length < MAX_NETS && !s.netHashes.includes(h)) {
        s.netHashes.push(h);
        s.nets.push(net);
      }
      if (s.samples.length < 9) s.samples.push(event.id);
      if (s.raisedAt > 0) ctx.wakeAt(s.lastActivity + cfg.quietSeconds * 1000);
      return out;
    }
    // A success.
    if (s.raisedAt > 0) {
      ctx.wakeAt(s.lastActivity + cfg.quietSeconds * 1000);
      return out;
    }
    const recent = s.failures > 0 && event.ts - s.lastFail <= cfg.windowSeconds * 1000;
    const burst =
      s.failures >= cfg.minFailures ||
      (s.failures >= cfg.minFailuresDistributed && s.netHashes.length >= cfg.minNetworks);
    if (recent && burst) {
      s.raisedAt = event.ts;
      s.failuresBefore = s.failures;
      s.success = {
        net,
        ts: event.ts,
        endpoint: endpointOf(event),
        ref: event.identity.credential.ref,
        id: event.id,
      };
      out.push(draft(s, key, cfg, 'firing'));
      ctx.wakeAt(s.lastActivity + cfg.quietSeconds * 1000);
    } else {
      // A normal login clears the slate: earlier failures were the user’s own.
      s.failures = 0;
      s.netHashes = [];
      s.nets = [];
      s.samples = [];
    }
    return out;
  },
  onWatermark(s, ts, ctx, key) {
    if (s.raisedAt === 0) return undefined;
    if (ts - s.lastActivity < ctx.config.quietSeconds * 1000) {
      ctx.wakeAt(s.lastActivity + ctx.config.quietSeconds * 1000);
      return undefined;
    }
    const out = [draft(s, key, ctx.config, 'resolved')];
    s.raisedAt = 0;
    s.failures = 0;
    s.netHashes = [];
    s.nets = [];
    s.samples = [];
    s.success = null;
    return out;
  },
  idleMs: (c) => (c.windowSeconds + c.quietSeconds) * 1000,
  sizeOf: (s) =>
    140 +
    s.netHashes.length * 8 +
    s.nets.reduce((n, x) => n + 16 + x.length * 2, 0) +
    s.samples.length * 40 +
    s.endpoint.length * 2,
});

function resetFailures(s: AccountState, event: ApiEvent): void {
  s.failures = 0;
  s.firstFail = event.ts;
  s.netHashes = [];
  s.nets = [];
  s.samples = [];
  s.endpoint = endpointOf(event);
  s.tenant = event.identity.tenant;
}

function draft(
  s: AccountState,
  key: string,
  cfg: SuccessAfterFailuresConfig,
  status: 'firing' | 'resolved',
): FindingDraft {
  const account = key.slice(key.indexOf('|') + 1);
  const ok = s.success!;
  const { method, route } = splitEndpoint(ok.endpoint);
  const networks = s.nets.length;
  const fromFailing = s.nets.includes(ok.net);
  const critical = networks >= cfg.minNetworks || s.failuresBefore >= 4 * cfg.minFailures;
  const summary =
    `account ${account} logged in from ${ok.net} on ${ok.endpoint} after ${s.failuresBefore} failed attempts in ${formatSpan((s.lastFail - s.firstFail) / 1000)} ` +
    `from ${networks} network${networks === 1 ? '' : 's'} (${listForHumans(s.nets, networks)})${fromFailing ? '' : ', a network none of the failures came from'} — possible account compromise.` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.lastActivity } : {}),
    entity: { kind: 'user', id: account, name: account, ref: ok.ref },
    route,
    method,
    tenant: s.tenant,
    severity: critical ? 'critical' : 'high',
    confidence: Math.min(0.95, 0.6 + 0.05 * s.failuresBefore + 0.05 * networks),
    summary,
    firstSeen: s.firstFail,
    lastSeen: status === 'resolved' ? s.lastActivity : ok.ts,
    evidence: {
      observed: s.failuresBefore,
      baseline: null,
      threshold: networks >= cfg.minNetworks ? cfg.minFailuresDistributed : cfg.minFailures,
      windowSeconds: cfg.windowSeconds,
      counts: { failuresBefore: s.failuresBefore, failingNetworks: networks, failuresInEpisode: s.failures },
      sampleEventIds: [...s.samples, ok.id].slice(0, 10),
      details: { successFrom: ok.net, successAt: ok.ts, failingNetworks: s.nets, failedOn: s.endpoint },
    },
    recommendedAction: `Treat ${account} as compromised until checked: end its sessions, force a password reset${ok.ref ? ` and revoke credential ${ok.ref}` : ''}, require MFA, and review what it did after ${new Date(ok.ts).toISOString()}.`,
  };
}
