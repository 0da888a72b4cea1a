export { type RecordedRequest, type Recorder, startDaemon, startRecorder } from './alerting.ts';
export { CLI, freePort, ROOT, runApiwatch, startApiwatch, waitFor } from './processes.ts';
export { KAFKA_BROKER, REDIS_URL, requireService, uniqueName } from './services.ts';
export { nginxTraffic } from './traffic.ts';
