export { boundedErrorSerializer, createLogger, LOGGED_ERROR_LIMITS, type Logger } from './logger.ts';
export { createMetrics, WORKER_STATES, type ExecutionSample, type MetricSources, type Metrics, type MetricsOptions, type WorkerSample } from './metrics.ts';
export { refuseHost } from './host-check.ts';
