/** The audit trail refuses a Redis older than 6.2 at start, with a message saying what to do. */
import { expect, test } from 'bun:test';
import { AuditRedisTooOldError, redisVersionOf, supportsAuditCommands } from '@sluice/db';
import { connectRedis } from '@sluice/queue';
import { testConfig } from '../helpers/env.ts';

test('the version is read from INFO server, and the test Redis passes', async () => {
  const redis = await connectRedis(testConfig().redis.url, { role: 'producer' });
  try {
    const version = redisVersionOf(await redis.info('server'));
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(supportsAuditCommands(version!)).toBe(true);
  } finally {
    redis.disconnect();
  }
});

test('6.2 and newer pass; older versions are refused by name', () => {
  expect(redisVersionOf('# Server\r\nredis_version:6.0.16\r\nredis_mode:standalone\r\n')).toBe('6.0.16');
  for (const version of ['6.2.0', '6.2.14', '7.0.15', '7.4.1', '8.0.2', '10.0.0']) expect(supportsAuditCommands(version)).toBe(true);
  for (const version of ['5.0.14', '6.0.16', '6.1.9', '4.0.0']) expect(supportsAuditCommands(version)).toBe(false);
  expect(new AuditRedisTooOldError('6.0.16').message).toBe(
    'Redis 6.0.16 is too old for the audit trail, which needs 6.2 or newer (XAUTOCLAIM, XTRIM MINID): upgrade Redis, or set AUDIT_ENABLED=false',
  );
});
