import type { AwsApigwRevokerConfigValue } from '@apiwatch/core';
import { APIGatewayClient, UpdateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import type { ActionResult, ActionTarget, Revoker } from './types.ts';

/**
 * AWS API Gateway: `UpdateApiKey` with `replace /enabled false` through the AWS SDK v3 (restore:
 * `true`). Credentials come from the SDK's default chain (env, profile, role); `endpoint` points
 * it elsewhere (tests, VPC endpoints).
 */
export function createAwsApigwRevoker(c: AwsApigwRevokerConfigValue, client?: APIGatewayClient): Revoker {
  const api =
    client ?? new APIGatewayClient({ region: c.region, ...(c.endpoint ? { endpoint: c.endpoint } : {}) });
  const set = async (t: ActionTarget, enabled: boolean): Promise<ActionResult> => {
    try {
      const out = await api.send(
        new UpdateApiKeyCommand({
          apiKey: t.ref,
          patchOperations: [{ op: 'replace', path: '/enabled', value: String(enabled) }],
        }),
        { abortSignal: AbortSignal.timeout(c.timeoutMs) },
      );
      return {
        ok: true,
        status: out.$metadata.httpStatusCode ?? 200,
        details: { enabled: out.enabled ?? enabled },
      };
    } catch (e) {
      const err = e as Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
      const status = err.$metadata?.httpStatusCode ?? null;
      return {
        ok: false,
        code:
          status === 404
            ? 'ALERT_ACTION_NOT_FOUND'
            : status !== null && status < 500 && status !== 429
              ? 'ALERT_ACTION_GATEWAY_REJECTED'
              : 'ALERT_ACTION_GATEWAY_UNAVAILABLE',
        retryable: status === null || status >= 500 || status === 429,
        status,
        error: `UpdateApiKey ${t.ref}: ${err.name}: ${err.message}`,
      };
    }
  };
  return {
    id: c.id,
    kind: 'aws-apigw',
    reversible: true,
    revoke: (t) => set(t, false),
    restore: (t) => set(t, true),
  };
}
