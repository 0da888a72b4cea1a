import { FindingSchema } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';

/**
 * What the router hands the delivery queue and every receiver formats: one aggregation group at
 * one moment (Alertmanager's notification), versioned because queued jobs outlive a deploy.
 * The generic webhook posts it as-is (docs/schemas/notification.schema.json).
 */
export const NOTIFICATION_TYPES = ['findings', 'response_paused'] as const;

export const NotificationSchema = T.Object(
  {
    schemaVersion: T.Literal(1),
    id: T.String({
      minLength: 1,
      maxLength: 64,
      description:
        'Idempotency key: receiver + group + sequence + content. The same on every retry; receivers de-duplicate on it (webhook-id).',
    }),
    type: T.Union(
      NOTIFICATION_TYPES.map((t) => T.Literal(t)),
      {
        description:
          'findings: a group of findings; response_paused: the automatic-response budget tripped its breaker and a human must look.',
      },
    ),
    receiver: T.String({ minLength: 1, maxLength: 64 }),
    groupKey: T.String({
      minLength: 1,
      maxLength: 128,
      description: 'Stable id of the aggregation group (route + group labels): the PagerDuty dedup_key.',
    }),
    status: T.Union([T.Literal('firing'), T.Literal('resolved')], {
      description: 'firing while any finding of the group fires; resolved once all have resolved.',
    }),
    groupLabels: T.Record(T.String(), T.String()),
    commonLabels: T.Record(T.String(), T.String()),
    findings: T.Array(FindingSchema, {
      description: 'The newest findings of the group (at most the configured cap).',
    }),
    counts: T.Object(
      {
        firing: T.Integer({ minimum: 0 }),
        resolved: T.Integer({ minimum: 0 }),
        acknowledged: T.Integer({ minimum: 0, description: 'Firing findings an analyst acknowledged.' }),
        updates: T.Integer({ minimum: 0, description: 'Finding updates folded into this group so far.' }),
        omitted: T.Integer({ minimum: 0, description: 'Findings of the group not listed (over the cap).' }),
      },
      { additionalProperties: false },
    ),
    sequence: T.Integer({
      minimum: 1,
      description: 'How many notifications this group has produced for this receiver.',
    }),
    message: T.Union([T.String({ maxLength: 2048 }), T.Null()], {
      description: 'Human text for response_paused; null for findings.',
    }),
    dashboardUrl: T.Union([T.String(), T.Null()]),
    queuedAt: T.Integer({
      minimum: 0,
      description: 'Wall clock when queued, ms epoch (latency is measured from it).',
    }),
  },
  {
    additionalProperties: false,
    $id: 'https://apiwatch.dev/schemas/notification.schema.json',
    title: 'Notification',
  },
);

export type Notification = Static<typeof NotificationSchema>;

/** The body the generic webhook POSTs (Standard Webhooks envelope). */
export const WebhookPayloadSchema = T.Object(
  {
    type: T.Literal('apiwatch.notification'),
    timestamp: T.String({ format: 'date-time' }),
    data: NotificationSchema,
  },
  {
    additionalProperties: false,
    $id: 'https://apiwatch.dev/schemas/webhook-payload.schema.json',
    title: 'apiwatch webhook payload',
  },
);
export type WebhookPayload = Static<typeof WebhookPayloadSchema>;
