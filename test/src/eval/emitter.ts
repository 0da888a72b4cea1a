import type { Rng } from '../random.ts';
import type { GenRequest, KongConsumer, WireAuth } from './request.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** The load balancers in front of the gateway: NGINX's `$remote_addr`, with the client in X-Forwarded-For. */
const LOAD_BALANCERS = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];

export interface Call {
  ts: number;
  host: string;
  method: string;
  template: string;
  path: string;
  query?: string;
  status: number;
  clientIp: string;
  ua: string;
  auth: WireAuth;
  consumer?: KongConsumer | null;
  /** Response size, bytes (default: a small JSON body for the status). */
  respBytes?: number;
  reqBytes?: number;
  latencyMs?: number;
}

/** Collects generated requests, filling what a gateway adds (request id, sizes, latency, LB address). */
export class Emitter {
  readonly out: GenRequest[] = [];
  private readonly rng: Rng;
  label = -1;

  constructor(rng: Rng) {
    this.rng = rng;
  }

  add(c: Call): GenRequest {
    const r = this.rng;
    const body = c.method === 'POST' || c.method === 'PUT' || c.method === 'PATCH';
    const req: GenRequest = {
      ts: Math.round(c.ts),
      host: c.host,
      method: c.method,
      path: c.path,
      query: c.query ?? '',
      status: c.status,
      reqBytes: c.reqBytes ?? Math.round(280 + r.float() * 400 + (body ? r.logNormal(600, 0.8) : 0)),
      respBytes:
        c.respBytes ??
        (c.status === 204 ? 0 : c.status >= 400 ? 40 + r.int(0, 120) : Math.round(r.logNormal(1800, 0.7))),
      latencyMs: c.latencyMs ?? Math.round(r.logNormal(c.status >= 500 ? 900 : 35, 0.6) * 10) / 10,
      clientIp: c.clientIp,
      peerIp: LOAD_BALANCERS[Math.floor(r.float() * LOAD_BALANCERS.length)]!,
      ua: c.ua,
      auth: c.auth,
      consumer: c.consumer ?? null,
      requestId: r.hex(16),
      template: c.template,
      label: this.label,
    };
    this.out.push(req);
    return req;
  }
}

/** Relative activity of people by local hour, working days. */
export const WEEKDAY_HOURS = [
  0.02, 0.01, 0.01, 0.01, 0.02, 0.05, 0.15, 0.4, 0.85, 1, 1, 0.95, 0.7, 0.9, 0.95, 0.9, 0.75, 0.5, 0.3, 0.25,
  0.2, 0.15, 0.08, 0.04,
];
/** Weekends: little, spread over the day. */
export const WEEKEND_HOURS = [
  0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.12, 0.12, 0.12, 0.12, 0.12, 0.12, 0.11, 0.1,
  0.1, 0.1, 0.09, 0.07, 0.05, 0.03,
];

/** Day of the week of a UTC time, 0 = Monday. */
export function weekday(ts: number): number {
  return (new Date(ts).getUTCDay() + 6) % 7;
}

/** Hour-of-day weight for a local time: weekday/weekend rhythm plus the Monday-morning surge. */
export function localActivity(ts: number, tzHours: number): number {
  const local = ts + tzHours * HOUR;
  const dow = weekday(local);
  const hour = new Date(local).getUTCHours();
  if (dow >= 5) return WEEKEND_HOURS[hour]!;
  const base = WEEKDAY_HOURS[hour]!;
  return dow === 0 && hour >= 8 && hour <= 11 ? base * 1.6 : base;
}
