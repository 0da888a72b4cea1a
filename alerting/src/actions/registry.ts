import type { SecretResolver } from '@apiwatch/core';
import {
  AwsApigwRevokerConfig,
  HttpRevokerConfig,
  KongRevokerConfig,
  type RevokerConfigValue,
  StartupError,
} from '@apiwatch/core';
import type { TSchema } from '@sinclair/typebox';
import { createAwsApigwRevoker } from './aws-apigw.ts';
import { createHttpRevoker } from './http-hook.ts';
import { createKongRevoker } from './kong.ts';
import type { Revoker } from './types.ts';

/** Every revoker kind, like the receiver registry: config schema (the same object as core's union) and factory. */
export interface RevokerKind {
  kind: RevokerConfigValue['kind'];
  configSchema: TSchema;
  create(config: RevokerConfigValue, secrets: SecretResolver, where: string): Revoker;
}

export const REVOKER_KINDS: readonly RevokerKind[] = [
  {
    kind: 'kong',
    configSchema: KongRevokerConfig,
    create: (c, secrets, where) =>
      c.kind === 'kong'
        ? createKongRevoker(c, secrets(where, { env: c.adminTokenEnv, file: c.adminTokenFile }, false))
        : unreachable(),
  },
  {
    kind: 'aws-apigw',
    configSchema: AwsApigwRevokerConfig,
    create: (c) => (c.kind === 'aws-apigw' ? createAwsApigwRevoker(c) : unreachable()),
  },
  {
    kind: 'http',
    configSchema: HttpRevokerConfig,
    create: (c, secrets, where) =>
      c.kind === 'http'
        ? createHttpRevoker(c, secrets(where, { env: c.secretEnv, file: c.secretFile }, false))
        : unreachable(),
  },
];

function unreachable(): never {
  throw new Error('revoker kind mismatch');
}

export function createRevokers(configs: readonly RevokerConfigValue[], secrets: SecretResolver): Revoker[] {
  return configs.map((c, i) => {
    const where = `config key "alert.actions.revokers.${i}" (${c.id})`;
    const kind = REVOKER_KINDS.find((k) => k.kind === c.kind);
    if (!kind) throw new StartupError('CONFIG_INVALID', `${where}: unknown revoker kind`);
    return kind.create(c, secrets, where);
  });
}
