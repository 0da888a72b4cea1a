import type { Command } from '../command.ts';
import { collectCommand } from './collect.ts';
import { detectorsCommand } from './detectors.ts';
import { inventoryCommand } from './inventory.ts';
import { migrateCommand } from './migrate.ts';
import { parseCommand } from './parse.ts';
import { replayCommand } from './replay.ts';
import { startCommand } from './start.ts';
import { storeCommand } from './store.ts';

/** The CLI contract (DESIGN.md §6), in the order `apiwatch --help` lists it. */
export const COMMANDS: readonly Command[] = [
  startCommand,
  collectCommand,
  replayCommand,
  parseCommand,
  detectorsCommand,
  migrateCommand,
  storeCommand,
  inventoryCommand,
];
