import type { Command } from '../command.ts';
import { actionsCommand } from './actions.ts';
import { collectCommand } from './collect.ts';
import { deliveriesCommand } from './deliveries.ts';
import { migrateCommand } from './migrate.ts';
import { parseCommand } from './parse.ts';
import { replayCommand } from './replay.ts';
import { silencesCommand } from './silences.ts';
import { startCommand } from './start.ts';
import { storeCommand } from './store.ts';

/** The CLI contract (DESIGN.md §6), in the order `apiwatch --help` lists it. */
export const COMMANDS: readonly Command[] = [
  startCommand,
  collectCommand,
  replayCommand,
  parseCommand,
  migrateCommand,
  storeCommand,
  silencesCommand,
  actionsCommand,
  deliveriesCommand,
];
