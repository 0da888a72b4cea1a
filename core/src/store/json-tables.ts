import type { DlqRecord } from '../bus/types.ts';
import type { Finding } from '../model/finding.ts';
import {
  type ApiSpecRecord,
  apiSpecRow,
  auditRow,
  deliveryRow,
  dlqRow,
  findingRow,
  type NotificationDeliveryRecord,
  type ResponseActionAudit,
  type TokenRevocation,
  tokenRevocationRow,
} from './rows.ts';
import { encodeRow, type InsertOptions } from './types.ts';

/**
 * The small tables both drivers fill with JSONEachRow (findings, the DLQ, the response-actions
 * audit, notification deliveries, uploaded specs, token revocations): one mapping each, shared, so the drivers differ only in how they send the rows.
 */
export abstract class JsonTablesStore {
  protected abstract insertJson(
    table: string,
    rows: Record<string, unknown>[],
    options?: InsertOptions,
  ): Promise<void>;

  async insertFindings(findings: readonly Finding[], options?: InsertOptions): Promise<void> {
    await this.insertJson(
      'findings',
      findings.map((f, i) => encodeRow(i, f, findingRow)),
      options,
    );
  }

  async insertDeadLetters(records: readonly DlqRecord[], options?: InsertOptions): Promise<void> {
    await this.insertJson(
      'dead_letters',
      records.map((d, i) => encodeRow(i, d, dlqRow)),
      options,
    );
  }

  async insertAudit(actions: readonly ResponseActionAudit[], options?: InsertOptions): Promise<void> {
    await this.insertJson(
      'response_actions_audit',
      actions.map((a, i) => encodeRow(i, a, auditRow)),
      options,
    );
  }

  async insertDeliveries(
    records: readonly NotificationDeliveryRecord[],
    options?: InsertOptions,
  ): Promise<void> {
    await this.insertJson(
      'notification_deliveries',
      records.map((d, i) => encodeRow(i, d, deliveryRow)),
      options,
    );
  }

  async insertSpecs(specs: readonly ApiSpecRecord[], options?: InsertOptions): Promise<void> {
    await this.insertJson(
      'api_specs',
      specs.map((s, i) => encodeRow(i, s, apiSpecRow)),
      options,
    );
  }

  async insertTokenRevocations(rows: readonly TokenRevocation[], options?: InsertOptions): Promise<void> {
    await this.insertJson(
      'api_token_revocations',
      rows.map((r, i) => encodeRow(i, r, tokenRevocationRow)),
      options,
    );
  }
}
