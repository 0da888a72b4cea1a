export { type RecordedRequest, type Recorder, startDaemon, startRecorder } from './alerting.ts';
export {
  type ApiwatchProcess,
  CLI,
  type EmbeddedStart,
  freePort,
  ROOT,
  runApiwatch,
  scrapeMetric,
  startApiwatch,
  startEmbedded,
  waitFor,
  waitUntilHealthy,
} from './processes.ts';
export { hashSeed, mulberry32, Rng } from './random.ts';
export {
  KAFKA_BROKER,
  kafkaBusConfig,
  kafkaTopics,
  REDIS_URL,
  requireService,
  uniqueName,
} from './services.ts';
export { type SyntheticOptions, syntheticEventStream, syntheticEvents } from './synthetic.ts';
export { nginxTraffic } from './traffic.ts';
export {
  expectedPerHour,
  type PatternedHistory,
  patternedHistory,
  type TrafficRoute,
  trafficEvent,
  type WeeklyPattern,
} from './weekly-traffic.ts';
