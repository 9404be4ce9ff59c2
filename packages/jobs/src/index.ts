export * from './define-job.ts';
export * from './errors.ts';
export { STRING_FORMATS } from './formats.ts';
export * from './registry.ts';
export * from './validate.ts';
export { EchoData } from './echo.ts';
