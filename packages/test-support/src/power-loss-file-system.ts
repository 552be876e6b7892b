/**
 * A {@link FileSystem} for crash children that turns a kill -9 into a simulated power loss. A
 * process kill alone loses nothing the kernel already holds, so it cannot tell an append that was
 * fsynced before its ack from one that was not. Here each write reaches the real file only in part
 * at once — its first half, as if the page cache had written some pages back — and the rest is held
 * in this process until an `fdatasync`/`fsync` of that descriptor that started after the write
 * returns (or a read, stat, truncate or close of the file) writes it. Only what reached the kernel survives a kill, so that is the model's
 * disk. A kill therefore drops every unsynced byte and tears the last unsynced write,
 * which recovery must cut off as a torn tail.
 *
 * Faults for proving that the crash harness fails (test code only, never used by the log itself):
 * - `skip-fsync`: `fdatasync`/`fsync` return at once without writing or syncing anything held, so
 *   acknowledged appends are lost by the next kill;
 * - `drop-last-ack`: `fdatasync`/`fsync` lag one sync behind: they write only what was held before
 *   the previous sync started, so the batch last acknowledged is still held (and lost by a kill)
 *   while the next sync runs.
 */
import fs from 'node:fs';
import { type FileSystem, nodeFileSystem } from '@herald/log';

/** Added to every sync of a segment file: widens the window in which a kill tears the tail. */
const SYNC_PAUSE_MS = 2;

/** Fault switches of {@link powerLossFileSystem}. */
export type PowerLossFault = 'skip-fsync' | 'drop-last-ack';

interface HeldWrite {
  readonly bytes: Buffer;
  readonly position: number;
  /** Syncs of the descriptor started before this write. */
  readonly syncsBefore: number;
}

/**
 * Wraps `node:fs` with write-back held until sync; see the module comment. `onSegmentTailHeld` is
 * called after each write to a segment (`.log`) file that left bytes held: a kill from now until
 * the covering sync returns finds a torn tail.
 */
export function powerLossFileSystem(fault?: PowerLossFault, onSegmentTailHeld?: () => void): FileSystem {
  const held = new Map<number, HeldWrite[]>();
  const paths = new Map<number, string>();
  const syncs = new Map<number, number>();

  /** Writes what is held for `fd` that was written before its sync number `syncsBefore`. */
  const writeHeld = (fd: number, syncsBefore = Number.POSITIVE_INFINITY): void => {
    const writes = held.get(fd);
    if (writes === undefined) return;
    let count = 0;
    while (count < writes.length && writes[count]!.syncsBefore < syncsBefore) count++;
    const now = writes.splice(0, count);
    for (const write of now) {
      // Synchronous on purpose: a kill lands between whole writes, as a power loss would.
      fs.writeSync(fd, write.bytes, 0, write.bytes.length, write.position);
    }
    if (writes.length === 0) held.delete(fd);
  };
  const writeHeldForPath = (path: string): void => {
    for (const [fd, name] of paths) {
      if (name === path) writeHeld(fd);
    }
  };
  const sync = async (fd: number, real: (fd: number) => Promise<void>): Promise<void> => {
    if (fault === 'skip-fsync') return;
    const started = syncs.get(fd) ?? 0;
    syncs.set(fd, started + 1);
    // The real sync first, then the held bytes: what reached the kernel is what a kill keeps, so
    // this is still sync-before-return, and a kill during the (slow) real sync finds a torn tail.
    await real(fd);
    // A disk-like pause with a segment's tail still held, so kills find torn tails often enough
    // to assert on (segments only: pauses elsewhere would only slow rolls down).
    if (paths.get(fd)?.endsWith('.log')) await new Promise((resolve) => setTimeout(resolve, SYNC_PAUSE_MS));
    // Only the writes made before this sync started are covered by it, as with a real fdatasync;
    // `drop-last-ack` covers only those made before the previous one started.
    writeHeld(fd, fault === 'drop-last-ack' ? started : started + 1);
  };

  return {
    ...nodeFileSystem,
    async open(path, flags, mode) {
      const fd = await nodeFileSystem.open(path, flags, mode);
      paths.set(fd, path);
      return fd;
    },
    async close(fd) {
      writeHeld(fd);
      paths.delete(fd);
      syncs.delete(fd);
      await nodeFileSystem.close(fd);
    },
    read(fd, buffer, offset, length, position) {
      writeHeld(fd);
      return nodeFileSystem.read(fd, buffer, offset, length, position);
    },
    async writev(fd, buffers, position) {
      const bytes = Buffer.concat(buffers as Uint8Array[]);
      // Half now (rounded down to whole 512-byte sectors when there are some), half at the next sync.
      const half = Math.floor(bytes.length / 2);
      const now = half >= 512 ? half - (half % 512) : half;
      if (now > 0) fs.writeSync(fd, bytes, 0, now, position);
      if (now < bytes.length) {
        const writes = held.get(fd) ?? [];
        writes.push({
          bytes: bytes.subarray(now),
          position: position + now,
          syncsBefore: syncs.get(fd) ?? 0,
        });
        held.set(fd, writes);
        if (paths.get(fd)?.endsWith('.log')) onSegmentTailHeld?.();
      }
      return bytes.length;
    },
    fdatasync: (fd) => sync(fd, nodeFileSystem.fdatasync),
    fsync: (fd) => sync(fd, nodeFileSystem.fsync),
    ftruncate(fd, length) {
      writeHeld(fd);
      return nodeFileSystem.ftruncate(fd, length);
    },
    stat(path) {
      writeHeldForPath(path);
      return nodeFileSystem.stat(path);
    },
    readFile(path) {
      writeHeldForPath(path);
      return nodeFileSystem.readFile(path);
    },
  };
}
