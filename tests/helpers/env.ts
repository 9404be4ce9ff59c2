/** Per-file isolation: a unique BullMQ prefix and a Config bound to it. */
import { loadConfig, type Config } from '@sluice/config';

/** A prefix no other test file shares, so files never see each other's jobs. */
export function uniquePrefix(label: string): string {
  return `t-${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Env for this test (process env + overrides), as child processes will see it. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return { ...env, ...overrides };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}
