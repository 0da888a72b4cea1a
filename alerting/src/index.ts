export { createDecider, type DecisionOptions, startDecisionServer } from './actions/decision.ts';
export { type ActionRecord, type AuditSink, ResponseEngine } from './actions/engine.ts';
export { createRevokers, REVOKER_KINDS } from './actions/registry.ts';
export type { ActionTarget, Revoker } from './actions/types.ts';
export { type Alerting, type AlertingOptions, createAlerting } from './alerting.ts';
export { AlertApiClient, type ApiResult } from './api/client.ts';
export {
  buildManagementApi,
  isManagementRoute,
  MAX_SPEC_BYTES,
  type ManagementStore,
  type SpecListing,
  type SpecRegistry,
} from './api/management.ts';
export { startAlertApi } from './api/server.ts';
export { checkOpenApiDocument } from './api/spec-validate.ts';
export { ApiTokens, type TokenView, tokenId } from './api/tokens.ts';
export {
  type Notification,
  NotificationSchema,
  type WebhookPayload,
  WebhookPayloadSchema,
} from './notification.ts';
export { BullmqQueue } from './queue/bullmq.ts';
export { Delivery } from './queue/delivery.ts';
export { MemoryQueue } from './queue/memory.ts';
export { DeliveryLog, deliveryRecord } from './queue/records.ts';
export type { DeadLetter, DeliveryAttempt, NotificationQueue, RetryPolicy } from './queue/types.ts';
export { AlertmanagerPostableAlertsSchema, alertmanagerAlerts } from './receivers/alertmanager.ts';
export { PagerdutyEventSchema, pagerdutyEvent } from './receivers/pagerduty.ts';
export { createReceivers, RECEIVER_KINDS } from './receivers/registry.ts';
export { createSecretResolver } from './receivers/secrets.ts';
export { generateSecret, sign, verify } from './receivers/signing.ts';
export { slackMessage } from './receivers/slack.ts';
export type { Receiver, SendResult } from './receivers/types.ts';
export { createWebhookReceiver } from './receivers/webhook.ts';
export { findingLabels, parseMatcher } from './router/matcher.ts';
export { AlertRouter, type Clock, systemClock } from './router/router.ts';
export { type Silence, Silences } from './router/silences.ts';
export { buildRouteTree, matchRoutes } from './router/tree.ts';
export { FileStateStore } from './state/file.ts';
export { MemoryStateStore } from './state/memory.ts';
export { RedisStateStore } from './state/redis.ts';
export type { StateStore } from './state/types.ts';
