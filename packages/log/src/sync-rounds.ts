/**
 * Sync rounds: the partitions of one store fdatasync together. Each partition's writer still
 * syncs its own segment and waits for its own result (group commit stays per partition, see
 * partition-writer.ts); what this adds is the timing. When no round runs and no write runs, a
 * request starts one at once (one outstanding publish waits for one fdatasync, as before). When
 * writes of other files run, the round first waits for those writes (only the ones running when
 * it became due), so the syncs their writers ask for next start with it. While a round runs,
 * requests of every partition gather; the round answers all its requests once its last sync
 * ended, and the next round becomes due in the turn after (so the writes of the appends that
 * round acknowledged have started, and it waits for them).
 *
 * Why: with 4 partitions each writer ran its own sync stream, unaligned with the others, so a
 * topic's publishes were split over 4 times as many writes and syncs as one partition's, each
 * carrying a quarter of the records (measured with strace: 23 records per fdatasync on 4
 * partitions against 250 on one, at 256 publishers). Rounds that started at once still split them
 * (strace, 220,000 publishes of 256 publishers on 4 partitions: 28 records per fdatasync and 1.7
 * writes per sync): each file's answers brought its publishers back on their own, every partition
 * wrote a group per answer, and the writes finishing after a round started waited for the next.
 * Answering a round together and waiting for the running writes gave 63 records per fdatasync
 * and one write per sync (3,488 fdatasyncs and 3,444 writes against 7,707 and 13,402).
 *
 * Durability is unchanged: a request is made after the write it must cover completed, and the
 * fdatasync it waits for starts at or after the request (never before), on that file; an error is
 * reported to the requests of that file only. Two requests for one descriptor in one round share
 * its fdatasync, which started after both. The cost: a request waits for at most one running
 * write of each other file before its round starts, and its answer for at most the slowest sync
 * of its round.
 *
 * Bound: a writer has at most one sync in flight, and the other callers (rolls, checkpoints,
 * closes) await theirs, so a round holds at most one request per caller waiting on a sync. The
 * writes waited for are the ones running when the round became due, at most one per writer.
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
  /**
   * `idle`: no round runs or is due. `waiting`: requests are gathered and the round waits for the
   * writes that were running when it became due. `running`: a round's fdatasyncs run (until the
   * turn after they all ended).
   */
  let state: 'idle' | 'waiting' | 'running' = 'idle';
  /** Writes (`writev`) of every descriptor running now, and the number of the last one started. */
  let writesRunning = 0;
  let writesStarted = 0;
  /**
   * While `waiting`: how many of the writes running when the round became due still run, and the
   * number of the last of them. Only those are waited for (writes started later are not), so the
   * wait ends within one write of each file.
   */
  let awaitedWrites = 0;
  let awaitedThrough = 0;

  /** Requests are gathered and no round runs: start one, or first let the running writes end. */
  const roundDue = (): void => {
    if (writesRunning === 0) {
      startRound();
      return;
    }
    state = 'waiting';
    awaitedWrites = writesRunning;
    awaitedThrough = writesStarted;
  };

  const writeEnded = (number: number): void => {
    writesRunning -= 1;
    if (state !== 'waiting' || number > awaitedThrough) return;
    awaitedWrites -= 1;
    // In the next turn: after the writers' continuations, which ask for the syncs these writes need.
    if (awaitedWrites === 0) setImmediate(startRound);
  };

  const writev = (fd: number, buffers: readonly Uint8Array[], position: number): Promise<number> => {
    const writing = fileSystem.writev(fd, buffers, position);
    writesStarted += 1;
    writesRunning += 1;
    const number = writesStarted;
    writing.then(
      () => writeEnded(number),
      () => writeEnded(number),
    );
    return writing;
  };

  const startRound = (): void => {
    const round = gathering;
    gathering = [];
    state = 'running';
    const byFd = new Map<number, SyncRequest[]>();
    for (const request of round) {
      const requests = byFd.get(request.fd);
      if (requests === undefined) byFd.set(request.fd, [request]);
      else requests.push(request);
    }
    let left = byFd.size;
    const failures = new Map<number, unknown>();
    const ended = (): void => {
      left -= 1;
      if (left > 0) return;
      // Every request of the round is answered once its last sync ended: the appends they
      // acknowledge then come back as one burst, and each partition writes its share as one group
      // (answered per file, each file's acknowledged publishers came back separately, so every
      // partition wrote a group per file of the round and its syncs carried fewer records).
      for (const [fd, requests] of byFd) {
        const failed = failures.has(fd);
        for (const request of requests) {
          if (failed) request.reject(failures.get(fd));
          else request.resolve();
        }
      }
      // After the callbacks the answers run: the writers write what was appended meanwhile, and
      // the next round waits for those writes (roundDue) rather than leaving them to the one after.
      setImmediate(() => {
        state = 'idle';
        if (gathering.length > 0) roundDue();
      });
    };
    for (const fd of byFd.keys()) {
      let syncing: Promise<void>;
      try {
        syncing = fileSystem.fdatasync(fd);
      } catch (error) {
        syncing = Promise.reject(error);
      }
      syncing.then(ended, (error: unknown) => {
        failures.set(fd, error);
        ended();
      });
    }
  };

  return {
    open: (path, flags) => fileSystem.open(path, flags),
    close: (fd) => fileSystem.close(fd),
    read: (fd, buffer, offset, length, position) => fileSystem.read(fd, buffer, offset, length, position),
    writev,
    fdatasync: (fd) =>
      new Promise<void>((resolve, reject) => {
        gathering.push({ fd, resolve, reject });
        if (state === 'idle') roundDue();
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
