/** The lock file that gives one process the embedded (PGlite) audit store under a data directory. */
import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditStoreBusyError } from './errors.ts';

export interface EmbeddedLock {
  /** Gives the lock up: the file goes when the last holder in this process releases it. */
  release(): void;
  /**
   * True while the lock file still holds this opening's token. False once the data directory
   * was deleted (another process may have created a new store there since): writing on would
   * put rows into files no directory names any more.
   */
  held(): boolean;
}

interface Owner {
  /** The file as read, to remove it only if it still says this. */
  text: string;
  pid: number;
  /** `<hostname>/<pid namespace>`; absent in files written before hosts were recorded. */
  host?: string;
  token?: string;
  mtimeMs: number;
}

/** An empty lock file this old was left by an opener that died between creating and writing it. */
const EMPTY_STALE_MS = 10_000;
/** Takeovers raced by another opener before giving up with the owner's name. */
const MAX_TRIES = 4;

/**
 * The lock files this process holds, with the token written into each and how many open
 * stores share it (a test, or a reopen before the old handle closed). A new token means a
 * new file: stores holding an older one no longer hold the lock.
 */
const held = new Map<string, { token: string; holders: number }>();

/**
 * PGlite corrupts a data directory opened by two processes at once, so the first opener
 * writes `<pid> <host> <token>` into `audit.lock`. A lock left by a dead process that this
 * one can see (same host, same pid namespace) is taken over; any other is refused, naming
 * the file to delete if its owner is gone.
 */
export function takeEmbeddedLock(dataDir: string): EmbeddedLock {
  const lockFile = join(dataDir, 'audit.lock');
  const host = thisHost();
  for (let tries = 1; ; tries++) {
    const token = randomUUID();
    try {
      // 'wx' creates the file only if absent: two processes cannot both win.
      writeFileSync(lockFile, `${process.pid} ${host} ${token}`, { flag: 'wx' });
      held.set(lockFile, { token, holders: 0 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(lockFile);
    if (!owner) {
      // Removed meanwhile: try to create it again, a few times.
      if (tries >= MAX_TRIES) throw new AuditStoreBusyError(dataDir, 0, undefined, lockFile);
      continue;
    }
    if (owner.token !== undefined && owner.token === held.get(lockFile)?.token) break;
    const busy = refusal(owner, host, dataDir, lockFile);
    if (busy) throw busy;
    if (tries >= MAX_TRIES) throw new AuditStoreBusyError(dataDir, owner.pid, owner.host, lockFile);
    removeIfStill(lockFile, owner.text);
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
      const owner = readOwnerOrNull(lockFile);
      if (owner?.token === token) removeIfStill(lockFile, owner.text);
    },
    // An unreadable file (EMFILE, EACCES) reads as not held: queries are refused while it lasts, and records wait in Redis.
    held: () => readOwnerOrNull(lockFile)?.token === token,
  };
}

/** Why `owner` still holds the store, or null when its lock is stale and may be taken over. */
function refusal(owner: Owner, host: string, dataDir: string, lockFile: string): AuditStoreBusyError | null {
  if (owner.pid === 0) {
    // Another opener between creating the file and writing it, or one that died there.
    return Date.now() - owner.mtimeMs > EMPTY_STALE_MS ? null : new AuditStoreBusyError(dataDir, 0, undefined, lockFile);
  }
  // Another host, or another pid namespace (a container): its processes cannot be seen from here.
  if (owner.host !== undefined && owner.host !== host) return new AuditStoreBusyError(dataDir, owner.pid, owner.host, lockFile);
  // Written by an older Sluice, which recorded no host: its own pid cannot be this process.
  if (owner.host === undefined && owner.pid === process.pid) return new AuditStoreBusyError(dataDir, owner.pid, undefined, lockFile);
  // This pid with another token: a process before this one that had the same pid (a restarted container).
  if (owner.pid !== process.pid && isAlive(owner.pid)) return new AuditStoreBusyError(dataDir, owner.pid);
  return null;
}

/**
 * Removes the lock file if it still reads `text`. Moved aside first, so a lock another
 * opener wrote after `text` was read is put back, not deleted: a takeover is all or nothing.
 */
function removeIfStill(lockFile: string, text: string): void {
  const aside = `${lockFile}.${randomUUID()}`;
  try {
    renameSync(lockFile, aside);
  } catch {
    return; // already gone
  }
  try {
    if (readFileSync(aside, 'utf8').trim() !== text) linkSync(aside, lockFile);
  } catch {
    // Yet another lock stands there now (EEXIST): it wins, and the next try reads it.
  } finally {
    rmSync(aside, { force: true });
  }
}

/** The lock file's owner; null when there is no file. Throws when it cannot be read (EACCES...). */
function readOwner(lockFile: string): Owner | null {
  try {
    const text = readFileSync(lockFile, 'utf8').trim();
    const [pid, host, token] = text.split(' ');
    return { text, pid: Number(pid) > 0 ? Number(pid) : 0, host, token, mtimeMs: statSync(lockFile).mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the embedded audit store's lock file ${lockFile}: ${(error as Error).message}`, { cause: error });
  }
}

function readOwnerOrNull(lockFile: string): Owner | null {
  try {
    return readOwner(lockFile);
  } catch {
    return null;
  }
}

/** The host name, and on Linux the pid namespace: two containers may share a name (`hostname:`, host networking). */
function thisHost(): string {
  try {
    return `${hostname()}/${readlinkSync('/proc/self/ns/pid').replace(/\D/g, '')}`;
  } catch {
    return hostname();
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
