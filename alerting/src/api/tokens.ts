import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger, TokenRevocation } from '@apiwatch/core';

export type ApiRole = 'viewer' | 'analyst' | 'admin';

/** A configured token (alert.api.tokens): only its SHA-256 is ever held. */
export interface ApiTokenEntry {
  name: string;
  role: ApiRole;
  tokenSha256: string;
}

/** What the token list needs of the store: revocations read and written. */
export interface RevocationStore {
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  insertTokenRevocations(rows: readonly TokenRevocation[]): Promise<void>;
}

/** A token's public id: derived from its hash, so it names the token without revealing it. */
export const tokenId = (sha256Hex: string): string => `tok_${sha256Hex.slice(0, 12)}`;

export interface TokenView {
  id: string;
  name: string;
  role: ApiRole;
  revoked: boolean;
  revokedAt: number | null;
  revokedBy: string | null;
  reason: string | null;
}

export type Authentication =
  | { ok: true; name: string; role: ApiRole; id: string }
  | { ok: false; reason: 'missing' | 'unknown' }
  /** The revocations have never been read (the store was down at start): fail closed. */
  | { ok: false; reason: 'unverified' }
  | { ok: false; reason: 'revoked'; name: string; id: string };

export type RevokeResult =
  | { ok: true; token: TokenView }
  | { ok: false; status: 404 | 409 | 503; code: string; message: string };

/**
 * The API's bearer tokens: the configured entries (alert.api.tokens, SHA-256 only) minus the
 * revoked ones. A revocation is a row in api_token_revocations (the hash, who, when, why), so it
 * survives restarts and reaches every process serving the API: the revoking process refuses the
 * token at once, the others when they next refresh (`refreshMs`, default 10 s). Until the
 * revocations have been read once (the store down at start), known tokens are refused with 503:
 * fail closed, as a revoked token must never pass. Tokens are compared in constant time on their
 * digests.
 */
export class ApiTokens {
  private readonly entries: Array<ApiTokenEntry & { hash: Buffer; id: string }>;
  private revoked = new Map<string, { revokedAt: number; revokedBy: string; reason: string }>();
  private timer: NodeJS.Timeout | null = null;
  private loaded = false;
  private readonly store: RevocationStore | null;
  private readonly log: Logger;

  constructor(entries: readonly ApiTokenEntry[], store: RevocationStore | null, log: Logger) {
    this.entries = entries.map((t) => ({
      ...t,
      hash: Buffer.from(t.tokenSha256, 'hex'),
      id: tokenId(t.tokenSha256),
    }));
    this.store = store;
    this.log = log;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Loads the revocations, then keeps refreshing them every `refreshMs` (0: never). */
  async start(refreshMs = 10_000): Promise<void> {
    await this.refresh();
    if (refreshMs > 0 && this.store) {
      this.timer = setInterval(() => void this.refresh(), refreshMs);
      this.timer.unref();
    }
  }

  /** Re-reads api_token_revocations; a store that fails keeps the revocations already known. */
  async refresh(): Promise<void> {
    if (!this.store) {
      this.loaded = true;
      return;
    }
    try {
      const rows = await this.store.query<{
        token_sha256: string;
        ms: string;
        revoked_by: string;
        reason: string;
      }>(
        `SELECT token_sha256, toUnixTimestamp64Milli(revoked_at) AS ms, revoked_by, reason
         FROM api_token_revocations FINAL`,
      );
      const next = new Map(this.revoked);
      for (const r of rows)
        next.set(r.token_sha256, { revokedAt: Number(r.ms), revokedBy: r.revoked_by, reason: r.reason });
      this.revoked = next;
      this.loaded = true;
    } catch (e) {
      this.log.warn({ err: e }, 'API token revocations could not be read; keeping the ones known.');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  authenticate(header: string | undefined): Authentication {
    if (!header?.startsWith('Bearer ')) return { ok: false, reason: 'missing' };
    const digest = createHash('sha256').update(header.slice(7).trim()).digest();
    const t = this.entries.find((x) => x.hash.length === digest.length && timingSafeEqual(x.hash, digest));
    if (!t) return { ok: false, reason: 'unknown' };
    // Until the revocations have been read once, a token might be a revoked one.
    if (!this.loaded) return { ok: false, reason: 'unverified' };
    if (this.revoked.has(t.tokenSha256)) return { ok: false, reason: 'revoked', name: t.name, id: t.id };
    return { ok: true, name: t.name, role: t.role, id: t.id };
  }

  list(): TokenView[] {
    return this.entries.map((t) => this.view(t));
  }

  /** Revokes the token with this id (tok_…) or, when exactly one has it, this name. */
  async revoke(idOrName: string, by: string, reason: string): Promise<RevokeResult> {
    const matches = this.entries.filter((t) => t.id === idOrName || t.name === idOrName);
    if (matches.length === 0)
      return {
        ok: false,
        status: 404,
        code: 'ALERT_TOKEN_NOT_FOUND',
        message: `no token with id or name ${idOrName} in alert.api.tokens`,
      };
    const byId = matches.filter((t) => t.id === idOrName);
    const chosen = byId.length === 1 ? byId : matches;
    if (chosen.length > 1)
      return {
        ok: false,
        status: 409,
        code: 'ALERT_TOKEN_AMBIGUOUS',
        message: `${chosen.length} tokens are named ${idOrName}; revoke by id (${chosen.map((t) => t.id).join(', ')})`,
      };
    const t = chosen[0]!;
    if (this.revoked.has(t.tokenSha256))
      return {
        ok: false,
        status: 409,
        code: 'ALERT_TOKEN_ALREADY_REVOKED',
        message: `token ${t.id} (${t.name}) is already revoked`,
      };
    if (!this.store)
      return {
        ok: false,
        status: 503,
        code: 'ALERT_API_NO_STORE',
        message: 'this process has no store to keep the revocation in; it would not survive a restart',
      };
    const row: TokenRevocation = {
      tokenSha256: t.tokenSha256,
      tokenId: t.id,
      name: t.name,
      role: t.role,
      revokedAt: Date.now(),
      revokedBy: by,
      reason,
    };
    await this.store.insertTokenRevocations([row]);
    this.revoked.set(t.tokenSha256, { revokedAt: row.revokedAt, revokedBy: by, reason });
    return { ok: true, token: this.view(t) };
  }

  private view(t: ApiTokenEntry & { id: string }): TokenView {
    const r = this.revoked.get(t.tokenSha256);
    return {
      id: t.id,
      name: t.name,
      role: t.role,
      revoked: r !== undefined,
      revokedAt: r?.revokedAt ?? null,
      revokedBy: r?.revokedBy ?? null,
      reason: r?.reason ?? null,
    };
  }
}
