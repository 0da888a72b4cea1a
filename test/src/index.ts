export { KAFKA_BROKER, REDIS_URL, requireService, uniqueName } from './services.ts';
