/** The lock file that gives one process the embedded (PGlite) audit store under a data directory. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditStoreBusyError } from './errors.ts';

export interface EmbeddedLock {
  /** Gives the lock up: the file goes when this process's last holder of it releases. */
  release(): void;
  /**
   * True while the lock file still names this process. False once the data directory was
   * deleted (another process may then have created a new store there): writing on would put
   * rows into files no directory names any more.
   */
  held(): boolean;
}

/**
 * Holders in this process per lock file. A process may open its store twice (a test, a
 * reopen before the old handle closed); the file must outlive every one of them.
 */
const holders = new Map<string, number>();

/**
 * PGlite corrupts a data directory opened by two processes at once, so the first
 * opener leaves its pid in `audit.lock`; a stale lock (dead pid) is taken over.
 */
export function takeEmbeddedLock(dataDir: string): EmbeddedLock {
  const lockFile = join(dataDir, 'audit.lock');
  const pid = String(process.pid);
  for (let tries = 0; ; tries++) {
    try {
      // 'wx' creates the file only if absent: two processes cannot both win.
      writeFileSync(lockFile, pid, { flag: 'wx' });
      holders.set(lockFile, 0);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw error;
    }
    const owner = Number(readFileSync(lockFile, 'utf8').trim());
    if (owner === process.pid && holders.has(lockFile)) break;
    // An empty file is another opener between creating and writing it.
    if (!owner || (owner !== process.pid && isAlive(owner))) throw new AuditStoreBusyError(dataDir, owner);
    // Left by a process that died: take it over.
    rmSync(lockFile, { force: true });
  }
  holders.set(lockFile, holders.get(lockFile)! + 1);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const left = holders.get(lockFile)! - 1;
      if (left > 0) return void holders.set(lockFile, left);
      holders.delete(lockFile);
      // Only our own file: after a deletion another process's lock may stand there now.
      if (readOwner(lockFile) === pid) rmSync(lockFile, { force: true });
    },
    held: () => readOwner(lockFile) === pid,
  };
}

function readOwner(lockFile: string): string | null {
  try {
    return readFileSync(lockFile, 'utf8').trim();
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
