export { EventTimeBaselines, type EventTimeBaselinesOptions } from './event-time.ts';
export {
  AUTH_FAILURE_DEFAULTS,
  AUTH_FAILURE_SQL,
  type AuthFailureOptions,
  type AuthFailureRate,
  type AuthFailureResult,
  authFailureRates,
  type RouteAuthFailureRate,
  WHOLE_ROUTE_ERRORS_SQL,
  type WholeRouteErrors,
  wholeRouteServerErrors,
} from './failures.ts';
export {
  OBJECT_PEER_DEFAULTS,
  OBJECT_PEER_SQL,
  type ObjectPeerBaseline,
  type ObjectPeerOptions,
  type ObjectPeerResult,
  type ObjectPercentiles,
  objectPeerPercentiles,
} from './peers.ts';
export {
  type BaselineFallbacks,
  BaselineRefresher,
  type BaselineRefresherOptions,
  type BaselineRefresherStats,
  BaselineSnapshot,
  type RouteHourBaseline,
  type ServerErrorRate,
} from './refresher.ts';
export {
  ACTOR_CLASS_SEASONAL_SQL,
  ACTOR_CLASSES,
  type ActorClass,
  type ActorClassSeasonal,
  actorClassSeasonal,
  ROUTE_SEASONAL_SQL,
  type RouteSeasonal,
  routeSeasonal,
  SEASONAL_DEFAULTS,
  type SeasonalCell,
  type SeasonalFallback,
  type SeasonalOptions,
  type SeasonalResult,
  type SeasonalSeries,
  type StaticLevel,
  seasonalCell,
} from './seasonal.ts';
export {
  ANY_TENANT,
  type BaselineQuerier,
  type BaselineSource,
  type BaselineWindow,
  type Confidence,
  hourOfWeek,
  type KeyCount,
  type RouteRef,
} from './types.ts';
