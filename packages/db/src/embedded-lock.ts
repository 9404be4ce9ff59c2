/**
 * The lock that gives one process the embedded (PGlite) audit store under a data directory:
 * flock(2) on `DATA_DIR/audit.lock` (beside the store's real directory when `audit` is a
 * symlink), held for as long as the store is open.
 */
import { dlopen, FFIType, read } from 'bun:ffi';
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { AuditStoreBusyError, AuditStoreUnavailableError } from './errors.ts';

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

/**
 * `reader`: a command that opens the store for one read and closes it (`queue:history`, a
 * `queue:monitor` redraw); a server starting meanwhile waits for it instead of giving up.
 */
export type LockRole = 'owner' | 'reader';

export interface LockOptions {
  /** Default `DATA_DIR/audit.lock`; the store passes the one beside its real directory. */
  lockFile?: string;
  /** Written into the file after the pid and host, for the message another opener gets. */
  role?: LockRole;
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
/** flock's "another process holds it": EWOULDBLOCK on Linux, EAGAIN (the same errno) on macOS. */
const HELD_ELSEWHERE = process.platform === 'darwin' ? 35 : 11;

/**
 * The files this process holds locks on, by identity, so an open through another path (a
 * symlinked DATA_DIR) shares the lock instead of conflicting with itself. A process may open
 * its store twice (a test, a reopen before the old handle closed); both share one lock.
 */
const heldFiles = new Map<string, Held>();

/**
 * The kernel keeps the lock while the process lives and drops it when the process dies
 * (a crash, SIGKILL, a container restarted), so a lock is never left stale, whatever the
 * pid or host. The file also names its owner, for the message another opener gets.
 */
export function takeEmbeddedLock(dataDir: string, { lockFile = join(dataDir, 'audit.lock'), role = 'owner' }: LockOptions = {}): EmbeddedLock {
  const mine = heldFiles.get(identityAt(lockFile) ?? '') ?? lockFileAt(lockFile, dataDir, role);
  heldFiles.set(mine.identity, mine);
  mine.holders++;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (--mine.holders > 0) return;
      heldFiles.delete(mine.identity);
      try {
        // Unlinked while still locked, so no other opener can lock this file once it is gone.
        if (identityAt(lockFile) === mine.identity) unlinkSync(lockFile);
      } catch {
        // Deleted meanwhile (the data directory went): nothing to remove.
      } finally {
        closeSync(mine.fd);
      }
    },
    held: () => identityAt(lockFile) === mine.identity,
  };
}

/** Opens and locks `lockFile`, or throws AuditStoreBusyError naming the process that holds it. */
function lockFileAt(lockFile: string, dataDir: string, role: LockRole): Held {
  for (let tries = 0; ; tries++) {
    const fd = openLockFile(lockFile, dataDir);
    const identity = identityOf(fstatSync(fd));
    const shared = heldFiles.get(identity);
    if (shared) {
      closeSync(fd); // replaced by the file this process holds between the look-up and the open
      return shared;
    }
    const { locked, errno } = flock(fd);
    if (!locked) {
      const owner = readFileSync(fd, 'utf8').trim().split(' ');
      closeSync(fd);
      if (errno !== HELD_ELSEWHERE) {
        throw new Error(`could not lock ${lockFile} (flock errno ${errno}): the filesystem may not support locks; put DATA_DIR on a local disk, or set DATABASE_URL to use Postgres`);
      }
      throw new AuditStoreBusyError(dataDir, Number(owner[0]) || 0, owner[1], owner[2] === 'reader' ? 'reader' : undefined);
    }
    // A holder that released between our open and our lock unlinked the file we opened.
    if (identityAt(lockFile) !== identity) {
      closeSync(fd);
      if (tries < 3) continue;
      throw new AuditStoreBusyError(dataDir, 0);
    }
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid} ${hostname()} ${role}`);
    } catch {
      // Opened read-only (another user's file): the lock holds without the name.
    }
    return { fd, identity, holders: 0 };
  }
}

/**
 * The lock file for writing its owner's name in, or read-only when it is another user's (left
 * by a run as root that was killed): flock needs no write access, and the lock is what counts.
 */
function openLockFile(lockFile: string, dataDir: string): number {
  try {
    try {
      return openSync(lockFile, 'a+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
      return openSync(lockFile, 'r');
    }
  } catch (error) {
    // A read-only or full disk, a directory in its place: one line saying which file, not a stack.
    throw new AuditStoreUnavailableError(join(dataDir, 'audit'), `${(error as Error).message}. Check that this user can write ${dirname(lockFile)}`, error, 'cannot be locked');
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

/** The C library's names on glibc Linux, macOS and musl (Alpine), and where each keeps errno. */
const LIBC = [
  { name: 'libc.so.6', errno: '__errno_location' },
  { name: 'libSystem.B.dylib', errno: '__error' },
  { name: 'libc.musl-x86_64.so.1', errno: '__errno_location' },
  { name: 'libc.musl-aarch64.so.1', errno: '__errno_location' },
] as const;

let flockFn: ((fd: number) => { locked: boolean; errno: number }) | undefined;

/** flock(fd, LOCK_EX | LOCK_NB) from the C library (loaded on first use), with errno when it fails. */
function flock(fd: number): { locked: boolean; errno: number } {
  flockFn ??= loadFlock();
  return flockFn(fd);
}

function loadFlock(): (fd: number) => { locked: boolean; errno: number } {
  for (const { name, errno } of LIBC) {
    try {
      const libc = dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        [errno]: { args: [], returns: FFIType.ptr },
      });
      const errnoAt = libc.symbols[errno] as () => number | null;
      return (fd) => {
        if (libc.symbols.flock(fd, LOCK_EX | LOCK_NB) === 0) return { locked: true, errno: 0 };
        const at = errnoAt();
        return { locked: false, errno: at ? read.i32(at, 0) : HELD_ELSEWHERE };
      };
    } catch {
      // not this system's name for it
    }
  }
  throw new Error(
    `the embedded audit store needs flock(2) from the C library, and none was found (tried ${LIBC.map((l) => l.name).join(', ')}); set DATABASE_URL to use Postgres`,
  );
}
