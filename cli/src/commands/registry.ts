import type { Command } from '../command.ts';
import { actionsCommand } from './actions.ts';
import { backtestCommand } from './backtest.ts';
import { collectCommand } from './collect.ts';
import { deliveriesCommand } from './deliveries.ts';
import { demoCommand } from './demo.ts';
import { detectorsCommand } from './detectors.ts';
import { evalCommand } from './eval.ts';
import { findingsCommand } from './findings.ts';
import { inventoryCommand } from './inventory.ts';
import { migrateCommand } from './migrate.ts';
import { parseCommand } from './parse.ts';
import { replayCommand } from './replay.ts';
import { silencesCommand } from './silences.ts';
import { specsCommand } from './specs.ts';
import { startCommand } from './start.ts';
import { storeCommand } from './store.ts';
import { tokensCommand } from './tokens.ts';

/** The CLI contract (docs/design.md §6), in the order `apiwatch --help` lists it. */
export const COMMANDS: readonly Command[] = [
  startCommand,
  demoCommand,
  collectCommand,
  replayCommand,
  findingsCommand,
  parseCommand,
  detectorsCommand,
  evalCommand,
  backtestCommand,
  migrateCommand,
  storeCommand,
  silencesCommand,
  actionsCommand,
  deliveriesCommand,
  inventoryCommand,
  specsCommand,
  tokensCommand,
];
