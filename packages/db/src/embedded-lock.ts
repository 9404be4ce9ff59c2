/**
 * The lock that gives one process the embedded (PGlite) audit store under a data directory:
 * flock(2) on `DATA_DIR/audit.lock`, held for as long as the store is open.
 */
import { dlopen, FFIType } from 'bun:ffi';
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditStoreBusyError } from './errors.ts';

export interface EmbeddedLock {
  /** Gives the lock up: the file goes when the last holder in this process releases it. */
  release(): void;
  /**
   * True while `audit.lock` is still the file this process locked. False once the data
   * directory was deleted (another process may have created a new store there since):
   * writing on would put rows into files no directory names any more.
   */
  held(): boolean;
}

/** An open, flocked lock file, shared by this process's opens of the same store. */
interface Held {
  fd: number;
  /** `dev:ino` of the locked file: a file created in its place is another one. */
  identity: string;
  holders: number;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
/** The C library's names on glibc Linux, macOS and musl (Alpine). */
const LIBC_NAMES = ['libc.so.6', 'libc.dylib', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so'];

/**
 * The lock files this process holds. A process may open its store twice (a test, a reopen
 * before the old handle closed); both share one lock. Stores holding an older file (since
 * replaced) keep their own `Held` and no longer hold the lock.
 */
const heldFiles = new Map<string, Held>();

/**
 * The kernel keeps the lock while the process lives and drops it when the process dies
 * (a crash, SIGKILL, a container restarted), so a lock is never left stale, whatever the
 * pid or host. The file also names its owner, for the message another opener gets.
 */
export function takeEmbeddedLock(dataDir: string): EmbeddedLock {
  const lockFile = join(dataDir, 'audit.lock');
  let entry = heldFiles.get(lockFile);
  if (!entry || identityAt(lockFile) !== entry.identity) {
    entry = lockFileAt(lockFile, dataDir);
    heldFiles.set(lockFile, entry);
  }
  const mine = entry;
  mine.holders++;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (--mine.holders > 0) return;
      if (heldFiles.get(lockFile) === mine) heldFiles.delete(lockFile);
      // Unlinked while still locked, so no other opener can lock this file once it is gone.
      if (identityAt(lockFile) === mine.identity) unlinkSync(lockFile);
      closeSync(mine.fd);
    },
    held: () => identityAt(lockFile) === mine.identity,
  };
}

/** Opens and locks `lockFile`, or throws AuditStoreBusyError naming the process that holds it. */
function lockFileAt(lockFile: string, dataDir: string): Held {
  for (let tries = 0; ; tries++) {
    const fd = openSync(lockFile, 'a+');
    if (flock()(fd, LOCK_EX | LOCK_NB) !== 0) {
      const owner = readFileSync(fd, 'utf8').trim().split(' ');
      closeSync(fd);
      throw new AuditStoreBusyError(dataDir, Number(owner[0]) || 0, owner[1]);
    }
    const identity = identityOf(fstatSync(fd));
    // A holder that released between our open and our lock unlinked the file we opened.
    if (identityAt(lockFile) !== identity) {
      closeSync(fd);
      if (tries < 3) continue;
      throw new AuditStoreBusyError(dataDir, 0);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid} ${hostname()}`);
    return { fd, identity, holders: 0 };
  }
}

function identityAt(path: string): string | null {
  try {
    return identityOf(statSync(path));
  } catch {
    return null;
  }
}

const identityOf = (stats: { dev: number; ino: number }) => `${stats.dev}:${stats.ino}`;

let flockFn: ((fd: number, operation: number) => number) | undefined;

/** flock(2) from the C library, loaded on first use. */
function flock(): (fd: number, operation: number) => number {
  if (flockFn) return flockFn;
  for (const name of LIBC_NAMES) {
    try {
      const libc = dlopen(name, { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
      flockFn = (fd, operation) => libc.symbols.flock(fd, operation);
      return flockFn;
    } catch {
      // not this system's name for it
    }
  }
  throw new Error(`the embedded audit store needs flock(2) from the C library, and none was found (tried ${LIBC_NAMES.join(', ')}); set DATABASE_URL to use Postgres`);
}
