import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type Config,
  type Finding,
  type Logger,
  SEVERITIES,
  type Severity,
  StartupError,
} from '@apiwatch/core';
import type { NotificationQueue } from '../queue/types.ts';
import { secretBytes } from '../receivers/signing.ts';
import type { Notification, Receiver } from '../receivers/types.ts';
import { createWebhookReceiver } from '../receivers/webhook.ts';

interface Route {
  receiver: Receiver;
  minSeverity: Severity;
}

export interface RouterCounters {
  routed: number;
  suppressed: number;
}

/**
 * Decides who hears about a finding: every receiver whose minimum severity it meets, once per
 * fingerprint within the de-duplication window (event time), through the delivery queue.
 */
export class AlertRouter {
  readonly counters: RouterCounters = { routed: 0, suppressed: 0 };
  private readonly routes: Route[];
  private readonly lastSent = new Map<string, number>();
  private readonly dedupMs: number;
  private readonly queue: NotificationQueue;

  constructor(routes: Route[], dedupWindowSeconds: number, queue: NotificationQueue) {
    this.routes = routes;
    this.dedupMs = dedupWindowSeconds * 1000;
    this.queue = queue;
  }

  get receivers(): Receiver[] {
    return this.routes.map((r) => r.receiver);
  }

  async start(): Promise<void> {
    const byId = new Map(this.routes.map((r) => [r.receiver.id, r.receiver]));
    await this.queue.start(async (n) => {
      const receiver = byId.get(n.receiver);
      if (!receiver)
        return {
          ok: false,
          retryable: false,
          status: null,
          error: `receiver ${n.receiver} is not configured`,
        };
      return receiver.send(n);
    });
  }

  async route(finding: Finding): Promise<number> {
    const key = finding.fingerprint;
    const last = this.lastSent.get(key);
    if (last !== undefined && Math.abs(finding.firstSeen - last) < this.dedupMs) {
      this.counters.suppressed++;
      return 0;
    }
    this.lastSent.set(key, finding.firstSeen);
    if (this.lastSent.size > 100_000) this.lastSent.delete(this.lastSent.keys().next().value as string);
    let sent = 0;
    const rank = SEVERITIES.indexOf(finding.severity);
    for (const r of this.routes) {
      if (rank < SEVERITIES.indexOf(r.minSeverity)) continue;
      const n: Notification = {
        id: createHash('sha256').update(`${r.receiver.id}|${finding.id}`).digest('base64url').slice(0, 32),
        receiver: r.receiver.id,
        finding,
        queuedAt: Date.now(),
      };
      await this.queue.enqueue(n);
      sent++;
    }
    this.counters.routed += sent;
    return sent;
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** Builds receivers from config, reading their secrets from env or files (never from the YAML). */
export function buildRoutes(
  alert: Config['alert'],
  env: NodeJS.ProcessEnv = process.env,
  log?: Logger,
): Route[] {
  return alert.receivers.map((rc, i) => {
    let secret: string | null = null;
    if (rc.secretEnv) {
      secret = env[rc.secretEnv] ?? null;
      if (!secret) {
        throw new StartupError(
          'CONFIG_INVALID',
          `config key "alert.receivers.${i}.secretEnv": environment variable ${rc.secretEnv} is not set`,
        );
      }
    } else if (rc.secretFile) {
      try {
        secret = readFileSync(rc.secretFile, 'utf8').trim();
      } catch (e) {
        throw new StartupError(
          'CONFIG_INVALID',
          `config key "alert.receivers.${i}.secretFile": ${(e as Error).message}`,
        );
      }
    } else {
      log?.warn({ receiver: rc.id }, 'webhook receiver has no signing secret; deliveries are unsigned.');
    }
    if (secret) {
      try {
        secretBytes(secret);
      } catch (e) {
        throw new StartupError('CONFIG_INVALID', `alert.receivers.${i} (${rc.id}): ${(e as Error).message}`);
      }
    }
    return { receiver: createWebhookReceiver(rc, secret), minSeverity: rc.minSeverity as Severity };
  });
}
