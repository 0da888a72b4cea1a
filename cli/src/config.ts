import { type Config, loadConfig } from '@apiwatch/core';
import { formatIds } from '@apiwatch/ingest';

/**
 * The config every command runs with: core's loader (file, documented variables, `APIWATCH__*`
 * overrides, defaults, validation) plus the checks that need other workspaces' registries —
 * `identity.sources` keys must be format ids of the parser registry.
 */
export function loadCliConfig(file?: string): Readonly<Config> {
  return loadConfig(file, undefined, { formats: formatIds() });
}
