import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@apiwatch/core';
import type { ResponseEngine } from './engine.ts';

/**
 * The decision endpoint gateways consult before forwarding a request: NGINX `auth_request`
 * (2xx allow, 401/403 deny) and Envoy `ext_authz` in HTTP mode (any path under the prefix; 200
 * allow, 403 deny). It reads the presented credential from the request (API-key headers or
 * `Authorization`), fingerprints it with the same keyed HMAC as ingest (the caller passes
 * `credentialOf`), and denies a revoked one at once. Answers are cached for `cacheTtlMs`
 * (revocations apply cache-invalidated in this process at once). If the revocation state cannot
 * be read, `failMode` decides: `open` (default) allows — an apiwatch outage must not take the
 * APIs down — `closed` denies.
 */
export interface DecisionOptions {
  engine: ResponseEngine;
  credentialOf(headers: IncomingHttpHeaders): { entityId: string | null; ref: string | null } | null;
  cacheTtlMs: number;
  failMode: 'open' | 'closed';
  log: Logger;
  now?: () => number;
}

export interface DecisionCounters {
  allowed: number;
  denied: number;
  failOpen: number;
  failClosed: number;
}

export function createDecider(o: DecisionOptions) {
  const cache = new Map<string, { at: number; deny: boolean }>();
  const now = o.now ?? Date.now;
  const counters: DecisionCounters = { allowed: 0, denied: 0, failOpen: 0, failClosed: 0 };
  return {
    counters,
    invalidate: () => cache.clear(),
    async decide(headers: IncomingHttpHeaders): Promise<{ allow: boolean; reason: string }> {
      const cred = o.credentialOf(headers);
      if (!cred) {
        counters.allowed++;
        return { allow: true, reason: 'no credential presented' };
      }
      const key = `${cred.entityId ?? ''}|${cred.ref ?? ''}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < o.cacheTtlMs) {
        hit.deny ? counters.denied++ : counters.allowed++;
        return { allow: !hit.deny, reason: hit.deny ? 'revoked (cached)' : 'not revoked (cached)' };
      }
      try {
        const revoked = await o.engine.isRevoked(cred);
        if (cache.size > 100_000) cache.clear();
        cache.set(key, { at: now(), deny: revoked !== null });
        revoked ? counters.denied++ : counters.allowed++;
        return {
          allow: revoked === null,
          reason: revoked ? `revoked by action ${revoked.actionId}` : 'not revoked',
        };
      } catch (e) {
        const open = o.failMode === 'open';
        open ? counters.failOpen++ : counters.failClosed++;
        o.log.error({ err: e }, `revocation state unreadable; failing ${o.failMode}.`);
        return { allow: open, reason: `state unavailable, fail-${o.failMode}` };
      }
    },
  };
}

/** A standalone HTTP listener for the decision endpoint (the alert API also mounts it at /decide). */
export async function startDecisionServer(
  decider: ReturnType<typeof createDecider>,
  host: string,
  port: number,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void decider.decide(req.headers).then((d) => {
      res.writeHead(d.allow ? 200 : 403, {
        'content-type': 'text/plain',
        'x-apiwatch-decision': d.allow ? 'allow' : 'deny',
      });
      res.end(d.allow ? '' : 'credential revoked\n');
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
