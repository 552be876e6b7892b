/**
 * Sync rounds: the partitions of one store fdatasync together. Each partition's writer still
 * syncs its own segment and waits for its own result (group commit stays per partition, see
 * partition-writer.ts); what this adds is the timing. When no round runs, a request starts one at
 * once (one outstanding publish waits for one fdatasync, as before). While a round runs, requests
 * of every partition gather, and the next round starts them all together when the running one
 * ends (in the next turn of the event loop, so the partitions that round acknowledged join it).
 *
 * Why: with 4 partitions each writer ran its own sync stream, unaligned with the others, so a
 * topic's publishes were split over 4 times as many writes and syncs as one partition's, each
 * carrying a quarter of the records (measured with strace: 23 records per fdatasync on 4
 * partitions against 250 on one, at 256 publishers). Aligned rounds let the writes a round's syncs
 * overlap grow, so each later sync carries more records.
 *
 * Durability is unchanged: a request is made after the write it must cover completed, and the
 * fdatasync it waits for starts at or after the request (never before), on that file; an error is
 * reported to the requests of that file only. Two requests for one descriptor in one round share
 * its fdatasync, which started after both. The cost: one partition's slow sync delays the next
 * round of the others by at most that sync.
 *
 * Bound: a writer has at most one sync in flight, and the other callers (rolls, checkpoints,
 * closes) await theirs, so a round holds at most one request per caller waiting on a sync.
 */

import type { FileSystem } from './file-system.ts';

interface SyncRequest {
  readonly fd: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * `fileSystem` with `fdatasync` gathered into rounds (see the module comment); every other call
 * goes straight through. Share one per store.
 */
export function syncRounds(fileSystem: FileSystem): FileSystem {
  let gathering: SyncRequest[] = [];
  let running = false;

  const startRound = (): void => {
    const round = gathering;
    gathering = [];
    running = true;
    const byFd = new Map<number, SyncRequest[]>();
    for (const request of round) {
      const requests = byFd.get(request.fd);
      if (requests === undefined) byFd.set(request.fd, [request]);
      else requests.push(request);
    }
    let left = byFd.size;
    const ended = (): void => {
      left -= 1;
      if (left > 0) return;
      if (gathering.length === 0) {
        running = false;
        return;
      }
      // After the callbacks this round's results run: the writers it acknowledged ask for their
      // next sync there, and join the others' in one round rather than alternating with them.
      setImmediate(startRound);
    };
    for (const [fd, requests] of byFd) {
      let syncing: Promise<void>;
      try {
        syncing = fileSystem.fdatasync(fd);
      } catch (error) {
        syncing = Promise.reject(error);
      }
      syncing.then(
        () => {
          for (const request of requests) request.resolve();
          ended();
        },
        (error: unknown) => {
          for (const request of requests) request.reject(error);
          ended();
        },
      );
    }
  };

  return {
    open: (path, flags) => fileSystem.open(path, flags),
    close: (fd) => fileSystem.close(fd),
    read: (fd, buffer, offset, length, position) => fileSystem.read(fd, buffer, offset, length, position),
    writev: (fd, buffers, position) => fileSystem.writev(fd, buffers, position),
    fdatasync: (fd) =>
      new Promise<void>((resolve, reject) => {
        gathering.push({ fd, resolve, reject });
        if (!running) startRound();
      }),
    fsync: (fd) => fileSystem.fsync(fd),
    ftruncate: (fd, length) => fileSystem.ftruncate(fd, length),
    stat: (path) => fileSystem.stat(path),
    readdir: (path) => fileSystem.readdir(path),
    mkdir: (path) => fileSystem.mkdir(path),
    rename: (from, to) => fileSystem.rename(from, to),
    link: (existing, newPath) => fileSystem.link(existing, newPath),
    unlink: (path) => fileSystem.unlink(path),
    removeTree: (path) => fileSystem.removeTree(path),
    readFile: (path) => fileSystem.readFile(path),
  };
}
