export { BullmqQueue } from './queue/bullmq.ts';
export { MemoryQueue } from './queue/memory.ts';
export type { NotificationQueue, RetryPolicy } from './queue/types.ts';
export { generateSecret, sign, verify } from './receivers/signing.ts';
export type { Notification, Receiver, SendResult } from './receivers/types.ts';
export { createWebhookReceiver } from './receivers/webhook.ts';
export { AlertRouter, buildRoutes } from './router/router.ts';
