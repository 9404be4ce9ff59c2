export { startSupervisor, WORKER_ENTRY } from './start-supervisor.ts';
