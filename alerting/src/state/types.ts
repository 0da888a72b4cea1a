/**
 * Where alerting keeps what must survive a restart (aggregation groups, silences, the finding
 * lifecycle, response actions, the revocation list, the action budget): in-process for the
 * embedded mode, Redis for everything else. Namespaced JSON documents plus two sorted-set
 * operations — all the router, silences and actions need, so each part stays testable on both.
 */
export interface StateStore {
  readonly kind: 'memory' | 'file' | 'redis';
  /** Loads persisted state (file store); call before first use. */
  open?(): Promise<void>;
  /** Resolves once every change so far is durable (file store); the others are durable per call. */
  sync?(): Promise<void>;
  get<T>(ns: string, id: string): Promise<T | null>;
  put(ns: string, id: string, value: unknown): Promise<void>;
  delete(ns: string, id: string): Promise<void>;
  all<T>(ns: string): Promise<T[]>;
  /** Drops a whole namespace. */
  drop(ns: string): Promise<void>;
  /** Scheduling: `id` becomes due at `atMs`. */
  schedule(ns: string, id: string, atMs: number): Promise<void>;
  unschedule(ns: string, id: string): Promise<void>;
  /** Ids due at or before `nowMs`, earliest first (they stay scheduled until unscheduled). */
  due(ns: string, nowMs: number, limit: number): Promise<string[]>;
  /** Earliest scheduled time, or null. */
  nextDue(ns: string): Promise<number | null>;
  /** Adds one event at `nowMs` to a rolling window and returns how many fall inside it. */
  countInWindow(ns: string, eventId: string, nowMs: number, windowMs: number): Promise<number>;
  /** How many events fall in the window, without adding one. */
  peekWindow(ns: string, nowMs: number, windowMs: number): Promise<number>;
  close(): Promise<void>;
}
