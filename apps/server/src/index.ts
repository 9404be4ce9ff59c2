/** @sluice/server-app: the server factory (for tests and embedding) and the process starter. */
export { accessFor, assertProductionCredentials, createCredentialCheck, hasAdminCredentials, MissingAdminCredentialsError } from './auth.ts';
export { describeHttpError, type ErrorBody } from './error-handler.ts';
export { checkReadiness, type Readiness } from './health.ts';
export { createServer, type ServerDeps, type SluiceServer } from './server.ts';
export { startServerProcess, type RunningServer } from './start.ts';
