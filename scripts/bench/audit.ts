/** The benchmark's view of the audit table: which store the app uses, and the rows a run left. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchAudit {
  kind: string;
  /** Env handed to the Sluice app so it writes where we read. */
  env: Record<string, string>;
  rowsSince(since: Date): Promise<{ count: number; lagsMs: number[] }>;
  close(): Promise<void>;
}

/** Until the audit package lands, the app runs without a store and rows are not checked. */
export async function openBenchAudit(_root: string, _say: (line: string) => void): Promise<BenchAudit> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  return {
    kind: 'none',
    env: { DATA_DIR: dir },
    rowsSince: async () => ({ count: NaN, lagsMs: [] }),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
