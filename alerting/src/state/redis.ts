import { Redis } from 'ioredis';
import type { StateStore } from './types.ts';

/**
 * State in Redis: one hash per namespace (`<prefix>:<ns>`), one sorted set per schedule
 * (`<prefix>:<ns>:due`) and per rolling window (`<prefix>:<ns>:win`). Survives restarts of
 * apiwatch; survives restarts of Redis when Redis persists (appendonly yes, docs/alerting.md).
 * Commands wait in ioredis's offline queue while Redis is away, so a blip delays, never drops.
 */
export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  private readonly prefix: string;

  constructor(url: string, prefix: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.prefix = prefix;
    // Connection errors are retried by ioredis (commands wait in its offline queue); say it once per outage.
    let down = false;
    this.redis.on('error', (e) => {
      if (!down) process.emitWarning(`alert state: Redis unreachable (${(e as Error).message}); retrying.`);
      down = true;
    });
    this.redis.on('ready', () => {
      down = false;
    });
  }

  private k(ns: string, suffix = ''): string {
    return `${this.prefix}:${ns}${suffix}`;
  }

  async get<T>(ns: string, id: string): Promise<T | null> {
    const v = await this.redis.hget(this.k(ns), id);
    return v === null ? null : (JSON.parse(v) as T);
  }
  async put(ns: string, id: string, value: unknown): Promise<void> {
    await this.redis.hset(this.k(ns), id, JSON.stringify(value));
  }
  async delete(ns: string, id: string): Promise<void> {
    await this.redis.hdel(this.k(ns), id);
  }
  async all<T>(ns: string): Promise<T[]> {
    const h = await this.redis.hgetall(this.k(ns));
    return Object.values(h).map((v) => JSON.parse(v) as T);
  }
  async drop(ns: string): Promise<void> {
    await this.redis.del(this.k(ns));
  }
  async schedule(ns: string, id: string, atMs: number): Promise<void> {
    await this.redis.zadd(this.k(ns, ':due'), atMs, id);
  }
  async unschedule(ns: string, id: string): Promise<void> {
    await this.redis.zrem(this.k(ns, ':due'), id);
  }
  async due(ns: string, nowMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.k(ns, ':due'), '-inf', nowMs, 'LIMIT', 0, limit);
  }
  async nextDue(ns: string): Promise<number | null> {
    const r = await this.redis.zrange(this.k(ns, ':due'), 0, 0, 'WITHSCORES');
    return r.length === 2 ? Number(r[1]) : null;
  }
  async countInWindow(ns: string, eventId: string, nowMs: number, windowMs: number): Promise<number> {
    const key = this.k(ns, ':win');
    const r = await this.redis
      .multi()
      .zadd(key, nowMs, eventId)
      .zremrangebyscore(key, '-inf', nowMs - windowMs)
      .zcard(key)
      .pexpire(key, windowMs * 2)
      .exec();
    return Number(r?.[2]?.[1] ?? 0);
  }
  async peekWindow(ns: string, nowMs: number, windowMs: number): Promise<number> {
    const key = this.k(ns, ':win');
    await this.redis.zremrangebyscore(key, '-inf', nowMs - windowMs);
    return this.redis.zcard(key);
  }
  /** Removes every key under the prefix (tests). */
  async clear(): Promise<void> {
    const keys = await this.redis.keys(`${this.prefix}:*`);
    if (keys.length > 0) await this.redis.del(...keys);
  }
  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
