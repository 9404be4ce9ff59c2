/** The lock file that gives one process the embedded (PGlite) audit store under a data directory. */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditStoreBusyError } from './errors.ts';

export interface EmbeddedLock {
  /** Gives the lock up: the file goes when the last holder in this process releases it. */
  release(): void;
  /**
   * True while the lock file still holds this opening's token. False once the data directory
   * was deleted (another process may have created a new store there since, and this process
   * may even have opened that one): writing on would put rows into files no directory names.
   */
  held(): boolean;
}

interface Owner {
  pid: number;
  /** Absent in files written before hosts were recorded. */
  host?: string;
  token?: string;
}

/**
 * The lock files this process holds, with the token written into each and how many open
 * stores share it (a test, or a reopen before the old handle closed). A new token means a
 * new file: stores holding an older one no longer hold the lock.
 */
const held = new Map<string, { token: string; holders: number }>();

/**
 * PGlite corrupts a data directory opened by two processes at once, so the first opener
 * writes `<pid> <host> <token>` into `audit.lock`. A lock left by a dead process on this
 * host is taken over; one naming another host (a container sharing the volume) cannot be
 * checked, so it is refused with the file to delete if that process is gone.
 */
export function takeEmbeddedLock(dataDir: string): EmbeddedLock {
  const lockFile = join(dataDir, 'audit.lock');
  const host = hostname();
  for (let tries = 0; ; tries++) {
    const token = randomUUID();
    try {
      // 'wx' creates the file only if absent: two processes cannot both win.
      writeFileSync(lockFile, `${process.pid} ${host} ${token}`, { flag: 'wx' });
      held.set(lockFile, { token, holders: 0 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw error;
    }
    const owner = readOwner(lockFile);
    if (owner?.token !== undefined && owner.token === held.get(lockFile)?.token) break;
    // An empty file is another opener between creating and writing it.
    if (!owner) throw new AuditStoreBusyError(dataDir, 0);
    if (owner.host !== undefined && owner.host !== host) throw new AuditStoreBusyError(dataDir, owner.pid, owner.host, lockFile);
    // Our own pid without our token: a process before this one that had the same pid (a container restarted).
    if (owner.pid !== process.pid && isAlive(owner.pid)) throw new AuditStoreBusyError(dataDir, owner.pid);
    rmSync(lockFile, { force: true });
  }
  const entry = held.get(lockFile)!;
  entry.holders++;
  const { token } = entry;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (held.get(lockFile)?.token !== token) return; // an older file, already gone
      if (--entry.holders > 0) return;
      held.delete(lockFile);
      if (readOwner(lockFile)?.token === token) rmSync(lockFile, { force: true });
    },
    held: () => readOwner(lockFile)?.token === token,
  };
}

function readOwner(lockFile: string): Owner | null {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8').trim();
  } catch {
    return null;
  }
  const [pid, host, token] = text.split(' ');
  return Number(pid) > 0 ? { pid: Number(pid), host, token } : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
