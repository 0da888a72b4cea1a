import { randomUUID } from 'node:crypto';
import type { Result } from '@apiwatch/core';
import type { StateStore } from '../state/types.ts';
import { type Labels, type Matcher, matchesAll, parseMatchers } from './matcher.ts';

/**
 * Silences (Alertmanager): matchers, who set them, why, and until when. A silenced finding is not
 * notified (it is still stored and counted). Expiring ends a silence now; expired silences stay
 * listed for `keepExpiredMs` so the audit trail of who muted what survives.
 */
export interface Silence {
  id: string;
  matchers: string[];
  author: string;
  reason: string;
  createdAt: number;
  startsAt: number;
  endsAt: number;
  /** Set when expired before its end (who expired it). */
  expiredBy: string | null;
}

export interface SilenceInput {
  matchers: string[];
  author: string;
  reason: string;
  /** Silence length, seconds from startsAt (or now). */
  durationSeconds: number;
  startsAt?: number;
}

export type SilenceError = {
  code: 'ALERT_SILENCE_INVALID' | 'ALERT_SILENCE_NOT_FOUND';
  message: string;
  retryable: false;
};

const NS = 'silence';

export class Silences {
  private readonly state: StateStore;
  private readonly now: () => number;
  private readonly keepExpiredMs: number;
  private cache: { at: number; list: Array<Silence & { compiled: Matcher[] }> } | null = null;

  constructor(state: StateStore, now: () => number, keepExpiredMs = 7 * 86_400_000) {
    this.state = state;
    this.now = now;
    this.keepExpiredMs = keepExpiredMs;
  }

  async create(input: SilenceInput): Promise<Result<Silence, SilenceError>> {
    const bad = (message: string): Result<Silence, SilenceError> => ({
      ok: false,
      error: { code: 'ALERT_SILENCE_INVALID', message, retryable: false },
    });
    if (input.matchers.length === 0) return bad('a silence needs at least one matcher');
    if (!input.author.trim()) return bad('a silence needs an author');
    if (!input.reason.trim()) return bad('a silence needs a reason');
    if (!(input.durationSeconds > 0)) return bad('a silence needs a positive duration');
    try {
      parseMatchers(input.matchers);
    } catch (e) {
      return bad((e as Error).message);
    }
    const now = this.now();
    const startsAt = input.startsAt ?? now;
    const s: Silence = {
      id: randomUUID(),
      matchers: input.matchers,
      author: input.author,
      reason: input.reason,
      createdAt: now,
      startsAt,
      endsAt: startsAt + Math.round(input.durationSeconds * 1000),
      expiredBy: null,
    };
    await this.state.put(NS, s.id, s);
    this.cache = null;
    return { ok: true, value: s };
  }

  async list(): Promise<Silence[]> {
    const all = await this.state.all<Silence>(NS);
    const now = this.now();
    for (const s of all) if (s.endsAt < now - this.keepExpiredMs) await this.state.delete(NS, s.id);
    return all.filter((s) => s.endsAt >= now - this.keepExpiredMs).sort((a, b) => a.createdAt - b.createdAt);
  }

  async expire(id: string, by: string): Promise<Result<Silence, SilenceError>> {
    const s = await this.state.get<Silence>(NS, id);
    if (!s)
      return {
        ok: false,
        error: { code: 'ALERT_SILENCE_NOT_FOUND', message: `no silence ${id}`, retryable: false },
      };
    const now = this.now();
    if (s.endsAt > now) {
      s.endsAt = now;
      s.expiredBy = by;
      await this.state.put(NS, id, s);
    }
    this.cache = null;
    return { ok: true, value: s };
  }

  /** The active silence muting these labels, if any (read through a 1 s cache: silences are rare). */
  async silencing(labels: Labels): Promise<Silence | null> {
    const now = this.now();
    if (!this.cache || now - this.cache.at > 1000 || now < this.cache.at) {
      const list = await this.state.all<Silence>(NS);
      this.cache = { at: now, list: list.map((s) => ({ ...s, compiled: parseMatchers(s.matchers) })) };
    }
    for (const s of this.cache.list) {
      if (s.startsAt <= now && now < s.endsAt && matchesAll(s.compiled, labels)) return s;
    }
    return null;
  }
}

export function isActive(s: Silence, now: number): boolean {
  return s.startsAt <= now && now < s.endsAt;
}
