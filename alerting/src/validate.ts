import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  type Notification,
  NotificationSchema,
  type WebhookPayload,
  WebhookPayloadSchema,
} from './notification.ts';
import {
  type AlertmanagerPostableAlerts,
  AlertmanagerPostableAlertsSchema,
} from './receivers/alertmanager.ts';
import { type PagerdutyEvent, PagerdutyEventSchema } from './receivers/pagerduty.ts';

// RFC 3339 date-time, as the receivers' schemas (and JSON Schema's format) mean it.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time'))
  FormatRegistry.Set('date-time', (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)));

export interface PayloadValidator<T> {
  check(value: unknown): value is T;
  explain(value: unknown): string;
}

function compile<T>(schema: TSchema): PayloadValidator<T> {
  const c = TypeCompiler.Compile(schema);
  return {
    check: (v: unknown): v is T => c.Check(v),
    explain(v: unknown) {
      const e = c.Errors(v).First();
      return e ? `${e.path || '/'}: ${e.message}` : 'valid';
    },
  };
}

export const notificationValidator = compile<Notification>(NotificationSchema);
export const webhookPayloadValidator = compile<WebhookPayload>(WebhookPayloadSchema);
export const pagerdutyEventValidator = compile<PagerdutyEvent>(PagerdutyEventSchema);
export const alertmanagerAlertsValidator = compile<AlertmanagerPostableAlerts>(
  AlertmanagerPostableAlertsSchema,
);
