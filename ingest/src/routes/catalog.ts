import { createHash } from 'node:crypto';
import type { ApiSpecRecord, Logger } from '@apiwatch/core';
import { type LoadedSpec, parseSpecText, specFromDocument } from './openapi.ts';

/** What the catalog needs of the store: api_specs read and written. */
export interface SpecStore {
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  insertSpecs(specs: readonly ApiSpecRecord[]): Promise<void>;
}

/** An uploaded spec as listed (GET /api/v1/specs): everything but the document. */
export interface SpecSummary {
  name: string;
  title: string;
  version: string;
  openapi: string;
  operations: number;
  uploadedBy: string;
  uploadedAt: number;
  sha256: string;
  bytes: number;
}

export type SpecUploadResult =
  | { ok: true; spec: SpecSummary; replaced: boolean; unchanged: boolean }
  | { ok: false; status: 400 | 422 | 503; code: string; message: string };

/**
 * Uploaded OpenAPI documents (POST /api/v1/specs), kept in the store's api_specs table so they
 * outlive the process and reach every ingest process, and turned into the route stage's specs
 * beside the `ingest.specs` files:
 *
 * - `upload` reduces the document the way the route stage will (specFromDocument), refuses one
 *   with no operations, stores it and tells this process's listeners at once;
 * - `watch` polls the (name, sha256) set every `ingest.specsReloadSeconds` and reloads when it
 *   changed — how an upload served by another process reaches this one;
 * - `load` reads the current document of every name (the newest upload) and reduces it; a stored
 *   document that no longer reduces (it cannot: it was checked on upload) is skipped and logged,
 *   never a reason to stop ingest.
 *
 * Re-uploading a name replaces its document; identical bytes are a no-op.
 */
export class SpecCatalog {
  private readonly store: SpecStore;
  private readonly log: Logger;
  private readonly listeners: Array<(specs: LoadedSpec[]) => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private signature = '';

  constructor(store: SpecStore, log: Logger) {
    this.store = store;
    this.log = log;
  }

  async list(): Promise<SpecSummary[]> {
    const rows = await this.store.query<{
      name: string;
      title: string;
      version: string;
      openapi: string;
      operations: number;
      uploaded_by: string;
      ms: string;
      sha256: string;
      bytes: number;
    }>(
      `SELECT name, title, version, openapi, operations, uploaded_by,
              toUnixTimestamp64Milli(uploaded_at) AS ms, sha256, bytes
       FROM api_specs FINAL ORDER BY name`,
    );
    return rows.map((r) => ({
      name: r.name,
      title: r.title,
      version: r.version,
      openapi: r.openapi,
      operations: Number(r.operations),
      uploadedBy: r.uploaded_by,
      uploadedAt: Number(r.ms),
      sha256: r.sha256,
      bytes: Number(r.bytes),
    }));
  }

  /** `document` is `text` parsed (JSON or YAML), already checked against the OpenAPI schema. */
  async upload(u: {
    name: string;
    text: string;
    document: unknown;
    openapi: string;
    uploadedBy: string;
  }): Promise<SpecUploadResult> {
    let spec: LoadedSpec;
    try {
      spec = specFromDocument(u.document, originOf(u.name));
    } catch (e) {
      return { ok: false, status: 422, code: 'ALERT_SPEC_INVALID', message: (e as Error).message };
    }
    if (spec.operations.length === 0)
      return {
        ok: false,
        status: 422,
        code: 'ALERT_SPEC_NO_OPERATIONS',
        message: `${u.name}: the document has no operations under paths, so it would give no route templates`,
      };
    const sha256 = createHash('sha256').update(u.text).digest('hex');
    const current = (await this.list()).find((s) => s.name === u.name);
    if (current?.sha256 === sha256) return { ok: true, spec: current, replaced: false, unchanged: true };
    const record: ApiSpecRecord = {
      name: u.name,
      uploadedAt: Date.now(),
      uploadedBy: u.uploadedBy,
      title: spec.title ?? '',
      version: spec.version ?? '',
      openapi: u.openapi,
      operations: spec.operations.length,
      sha256,
      bytes: Buffer.byteLength(u.text),
      document: u.text,
    };
    await this.store.insertSpecs([record]);
    const { document: _d, ...summary } = record;
    await this.reloadIfChanged();
    return { ok: true, spec: summary, replaced: current !== undefined, unchanged: false };
  }

  /** The current document of every uploaded name, reduced for the route stage. */
  async load(): Promise<LoadedSpec[]> {
    const rows = await this.store.query<{ name: string; document: string }>(
      'SELECT name, document FROM api_specs FINAL ORDER BY name',
    );
    const out: LoadedSpec[] = [];
    for (const r of rows) {
      try {
        out.push(parseSpecText(r.document, originOf(r.name)));
      } catch (e) {
        this.log.error(
          { spec: r.name, err: e },
          'an uploaded OpenAPI spec in api_specs no longer loads; the route stage goes on without it.',
        );
      }
    }
    return out;
  }

  /** Calls `listener` with the uploaded specs whenever they change (an upload, or the poll). */
  onChange(listener: (specs: LoadedSpec[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Reads the uploaded specs, then polls the store every `intervalMs` for uploads made by other
   * processes (0: never).
   */
  async watch(intervalMs: number): Promise<LoadedSpec[]> {
    let specs: LoadedSpec[] = [];
    try {
      this.signature = await this.currentSignature();
      specs = await this.load();
    } catch (e) {
      // The store being down at start is no reason to refuse traffic: the poll loads them later.
      this.log.warn(
        { err: e },
        'uploaded OpenAPI specs could not be read at start; retrying on the next poll.',
      );
    }
    if (intervalMs > 0 && !this.timer) {
      this.timer = setInterval(() => {
        this.reloadIfChanged().catch((e) =>
          this.log.warn({ err: e }, 'uploaded OpenAPI specs could not be re-read; keeping the ones loaded.'),
        );
      }, intervalMs);
      this.timer.unref();
    }
    return specs;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reloads and tells the listeners when the (name, sha256) set differs from the last one seen. */
  async reloadIfChanged(): Promise<boolean> {
    const sig = await this.currentSignature();
    if (sig === this.signature) return false;
    this.signature = sig;
    const specs = await this.load();
    this.log.info(
      { specs: specs.map((s) => s.origin), operations: specs.reduce((n, s) => n + s.operations.length, 0) },
      'uploaded OpenAPI specs changed; the route stage reloaded them.',
    );
    for (const l of this.listeners) l(specs);
    return true;
  }

  private async currentSignature(): Promise<string> {
    const rows = await this.store.query<{ name: string; sha256: string }>(
      'SELECT name, sha256 FROM api_specs FINAL ORDER BY name',
    );
    return rows.map((r) => `${r.name}:${r.sha256}`).join(',');
  }
}

/** The origin (LoadedSpec.origin, SpecOperation.spec) of an uploaded spec. */
export const originOf = (name: string): string => `upload:${name}`;
