import type { DashboardSpec } from '../model.ts';
import { investigate, pipeline, response } from './ops.ts';
import { auth, bola, overview, spec, traffic } from './soc.ts';

/** Every dashboard apiwatch ships, in menu order. */
export const DASHBOARDS: readonly DashboardSpec[] = [
  overview,
  auth,
  bola,
  spec,
  traffic,
  response,
  investigate,
  pipeline,
];
