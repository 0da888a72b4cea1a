import type { SecretResolver } from '@apiwatch/core';
import {
  AlertmanagerReceiverConfig,
  type AlertmanagerReceiverConfigValue,
  PagerdutyReceiverConfig,
  type PagerdutyReceiverConfigValue,
  type ReceiverConfigValue,
  SlackReceiverConfig,
  type SlackReceiverConfigValue,
  StartupError,
  WebhookReceiverConfig,
  type WebhookReceiverConfigValue,
} from '@apiwatch/core';
import type { TSchema } from '@sinclair/typebox';
import { createAlertmanagerReceiver } from './alertmanager.ts';
import { createPagerdutyReceiver } from './pagerduty.ts';
import { secretBytes } from './signing.ts';
import { createSlackReceiver } from './slack.ts';
import type { Receiver } from './types.ts';
import { createWebhookReceiver } from './webhook.ts';

/**
 * Every receiver kind: its config schema (the same object the config union in core is built
 * from, in the same order — registry.test.ts checks) and how to build one, secrets resolved
 * through the one resolver.
 */
export interface ReceiverKind<C extends ReceiverConfigValue = ReceiverConfigValue> {
  kind: C['kind'];
  configSchema: TSchema;
  create(config: C, secrets: SecretResolver, where: string): Receiver;
}

const webhook: ReceiverKind<WebhookReceiverConfigValue> = {
  kind: 'webhook',
  configSchema: WebhookReceiverConfig,
  create(c, secrets, where) {
    const secret = secrets(where, { env: c.secretEnv, file: c.secretFile }, false);
    if (secret) {
      try {
        secretBytes(secret);
      } catch (e) {
        throw new StartupError('CONFIG_INVALID', `${where}: ${(e as Error).message}`);
      }
    }
    return createWebhookReceiver(c, secret);
  },
};

const slack: ReceiverKind<SlackReceiverConfigValue> = {
  kind: 'slack',
  configSchema: SlackReceiverConfig,
  create(c, secrets, where) {
    const url = secrets(where, { env: c.urlEnv, file: c.urlFile, inline: c.url }, true) as string;
    if (!/^https?:\/\//.test(url))
      throw new StartupError('CONFIG_INVALID', `${where}: the Slack webhook URL must be http(s)`);
    return createSlackReceiver(c, url);
  },
};

const pagerduty: ReceiverKind<PagerdutyReceiverConfigValue> = {
  kind: 'pagerduty',
  configSchema: PagerdutyReceiverConfig,
  create(c, secrets, where) {
    const key = secrets(where, { env: c.routingKeyEnv, file: c.routingKeyFile }, true) as string;
    if (key.length !== 32)
      throw new StartupError(
        'CONFIG_INVALID',
        `${where}: a PagerDuty routing (integration) key has 32 characters`,
      );
    return createPagerdutyReceiver(c, key);
  },
};

const alertmanager: ReceiverKind<AlertmanagerReceiverConfigValue> = {
  kind: 'alertmanager',
  configSchema: AlertmanagerReceiverConfig,
  create: (c) => createAlertmanagerReceiver(c),
};

export const RECEIVER_KINDS: readonly ReceiverKind[] = [
  webhook,
  slack,
  pagerduty,
  alertmanager,
] as ReceiverKind[];

export function createReceivers(
  configs: readonly ReceiverConfigValue[],
  secrets: SecretResolver,
): Receiver[] {
  const seen = new Set<string>();
  return configs.map((c, i) => {
    const where = `config key "alert.receivers.${i}" (${c.id})`;
    if (seen.has(c.id))
      throw new StartupError('CONFIG_INVALID', `${where}: receiver id ${c.id} is used twice`);
    seen.add(c.id);
    const kind = RECEIVER_KINDS.find((k) => k.kind === c.kind);
    if (!kind) throw new StartupError('CONFIG_INVALID', `${where}: unknown receiver kind ${c.kind}`);
    return kind.create(c, secrets, where);
  });
}
