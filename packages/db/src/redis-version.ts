/** Which Redis the audit trail can run on: 6.2 or newer, for XAUTOCLAIM and XTRIM MINID. */

/** The `redis_version` of an `INFO server` reply, or null when absent. */
export function redisVersionOf(info: string): string | null {
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? null;
}

/** True for 6.2 and newer. An unparseable version passes: the commands themselves will say. */
export function supportsAuditCommands(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return true;
  return major! > 6 || (major === 6 && minor! >= 2);
}
