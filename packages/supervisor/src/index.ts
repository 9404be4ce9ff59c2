export * from './protocol.ts';
export * from './restart-policy.ts';
export * from './supervisor.ts';
export * from './liveness-policy.ts';
export * from './signals.ts';
