/**
 * An in-memory disk for the storage-fault simulation, with a page-cache crash model and seeded
 * faults. Each process incarnation gets a {@link FileSystem} view from {@link SimDisk.view};
 * {@link SimDisk.crash} kills it (its later calls fail at once without touching the disk) and
 * keeps only what a power loss would keep:
 *
 * - file data: what the last successful fdatasync/fsync of the inode covered; each write or
 *   truncate made after it survives whole, is lost, or (a write) is torn at any byte, as the
 *   seeded random source decides, each independently (the page cache writes pages back in any
 *   order);
 * - directory entries (create, rename, link, unlink, mkdir, remove): an fsync of the directory
 *   makes its entries durable; of the others a prefix, in the order they were made, survives
 *   (a journaling file system commits metadata in order);
 * - a failed fsync (Linux since 4.13): the dirty pages are marked clean and dropped from the
 *   write-back, so reads still see the data but no later fsync persists it.
 *
 * Injected faults: `failAt(index, code)` makes the file-system call with that index (counted from
 * 0 over the disk's life) fail with EIO or ENOSPC without effect; `failSyncAt` makes that call's
 * sync fail with the fsyncgate semantics above; {@link SimDisk.flipBit} flips one bit of a file's
 * durable and cached bytes.
 */
import path from 'node:path';
import type { FileSystem } from '@herald/log';
import type { Random } from './random.ts';
import {
  type Entry,
  type Inode,
  type MetadataChange,
  type MetadataOp,
  resize,
  systemError,
  writeAt,
} from './sim-inode.ts';
import { SimView } from './sim-view.ts';

export { systemError } from './sim-inode.ts';

/** Calls that may need new space, so may fail with ENOSPC. */
const ALLOCATING_CALLS = new Set([
  'open',
  'writev',
  'ftruncate',
  'mkdir',
  'rename',
  'link',
  'fsync',
  'fdatasync',
]);

/** How many of each fault the disk injected. */
export interface DiskFaultCounts {
  eio: number;
  enospc: number;
  fsyncFailed: number;
  bitFlips: number;
  tornWrites: number;
  lostWrites: number;
  lostMetadataOps: number;
}

/** The in-memory disk; see the module comment. */
export class SimDisk {
  /** Current namespace: absolute path to entry. */
  #entries = new Map<string, Entry>();
  /** Durable namespace. */
  #durableEntries = new Map<string, Entry>();
  #pendingOps: MetadataOp[] = [];
  #generation = 0;
  #calls = 0;
  #failures = new Map<number, { code: 'EIO' | 'ENOSPC' | 'FSYNC' }>();
  readonly #random: Random;
  readonly #clock: () => number;
  /** Faults injected so far. */
  readonly faults: DiskFaultCounts = {
    eio: 0,
    enospc: 0,
    fsyncFailed: 0,
    bitFlips: 0,
    tornWrites: 0,
    lostWrites: 0,
    lostMetadataOps: 0,
  };
  /** Called with each call's index and name (the I/O-error-at-every-operation test counts them). */
  onCall: ((index: number, call: string) => void) | undefined;

  constructor(random: Random, clock: () => number, roots: readonly string[]) {
    this.#random = random;
    this.#clock = clock;
    for (const root of roots) {
      for (let at = root; ; at = path.dirname(at)) {
        this.#entries.set(at, { kind: 'dir' });
        this.#durableEntries.set(at, { kind: 'dir' });
        if (at === path.dirname(at)) break;
      }
    }
  }

  /** File-system calls made so far (the index the next call gets). */
  get calls(): number {
    return this.#calls;
  }

  /** Makes call number `index` fail with `code` (a sync call with `'FSYNC'` fails as a sync). */
  failAt(index: number, code: 'EIO' | 'ENOSPC' | 'FSYNC'): void {
    this.#failures.set(index, { code });
  }

  /** A file-system view for a new process incarnation; {@link crash} kills it. */
  view(): FileSystem {
    return new SimView(this, this.#generation);
  }

  /** @internal Whether a view of `generation` is still alive. */
  alive(generation: number): boolean {
    return generation === this.#generation;
  }

  /**
   * @internal Counts a call and throws the injected failure of its index, if any. Resolves
   * `'sync-failed'` for an injected sync failure (the caller applies the fsyncgate semantics).
   */
  enter(call: string, where: string): 'ok' | 'sync-failed' {
    const index = this.#calls++;
    this.onCall?.(index, call);
    const failure = this.#failures.get(index);
    if (failure === undefined) return 'ok';
    if (failure.code === 'FSYNC' && (call === 'fsync' || call === 'fdatasync')) {
      this.faults.fsyncFailed++;
      return 'sync-failed';
    }
    // A full disk fails only calls that allocate; any other call fails with EIO instead.
    const code = failure.code === 'ENOSPC' && ALLOCATING_CALLS.has(call) ? 'ENOSPC' : 'EIO';
    if (code === 'ENOSPC') this.faults.enospc++;
    else this.faults.eio++;
    throw systemError(code, call, where);
  }

  /** @internal The entry at `at`, or ENOENT. */
  entry(call: string, at: string): Entry {
    const entry = this.#entries.get(at);
    if (entry === undefined) throw systemError('ENOENT', call, at);
    return entry;
  }

  /** @internal Looks up without throwing. */
  peek(at: string): Entry | undefined {
    return this.#entries.get(at);
  }

  /** @internal Names directly inside `directory`, sorted. */
  list(directory: string): string[] {
    const names: string[] = [];
    for (const at of this.#entries.keys())
      if (path.dirname(at) === directory && at !== directory) names.push(path.basename(at));
    return names.sort();
  }

  /** @internal Applies a metadata op now and remembers it until its directory is fsynced. */
  apply(changes: MetadataChange[]): void {
    for (const change of changes) setEntry(this.#entries, change);
    this.#pendingOps.push({
      changes,
      directories: [...new Set(changes.map((change) => path.dirname(change.path)))],
    });
  }

  /** @internal fsync of a directory: its pending entries become durable. */
  syncDirectory(directory: string): void {
    // Ops before the directory's last one are committed with it: the journal is in order.
    let last = -1;
    this.#pendingOps.forEach((op, index) => {
      if (op.directories.includes(directory)) last = index;
    });
    const committed = this.#pendingOps.slice(0, last + 1);
    this.#pendingOps = this.#pendingOps.slice(last + 1);
    for (const op of committed) for (const change of op.changes) setEntry(this.#durableEntries, change);
  }

  /** @internal fdatasync/fsync of a file: its data becomes durable (or, failed, is dropped from write-back). */
  syncFile(inode: Inode, failed: boolean): void {
    if (!failed) inode.durable = inode.data.slice();
    inode.pending = [];
  }

  /** @internal The virtual time for mtimes. */
  now(): number {
    return this.#clock();
  }

  /**
   * Power loss: kills every view, then rebuilds the disk from what survives (see the module
   * comment). Lock files are removed: the process that held them is dead, and every incarnation
   * of the simulation shares one OS pid, which the liveness probe would find alive.
   */
  crash(): void {
    this.#generation++;
    const random = this.#random;
    const survivors = random.below(this.#pendingOps.length + 1);
    this.faults.lostMetadataOps += this.#pendingOps.length - survivors;
    for (const op of this.#pendingOps.slice(0, survivors)) {
      for (const change of op.changes) setEntry(this.#durableEntries, change);
    }
    this.#pendingOps = [];
    const inodes = new Set<Inode>();
    for (const entry of this.#durableEntries.values()) if (entry.kind === 'file') inodes.add(entry.inode);
    for (const inode of inodes) this.#settleInode(inode);
    // Entries whose parent directory did not survive are gone with it.
    for (const at of [...this.#durableEntries.keys()].sort()) {
      if (path.dirname(at) !== at && this.#durableEntries.get(path.dirname(at))?.kind !== 'dir') {
        this.#durableEntries.delete(at);
      }
    }
    for (const at of [...this.#durableEntries.keys()]) {
      if (path.basename(at) === 'herald.lock') this.#durableEntries.delete(at);
    }
    this.#entries = new Map(this.#durableEntries);
  }

  #settleInode(inode: Inode): void {
    let bytes = inode.durable;
    for (const change of inode.pending) {
      const fate = this.#random.below(4); // 0 lost, 1 torn, 2-3 whole: most writes reach the disk
      if (fate === 0) {
        this.faults.lostWrites++;
        continue;
      }
      if (change.kind === 'truncate') {
        bytes = resize(bytes, change.length);
      } else {
        const count = fate === 1 ? this.#random.below(change.bytes.byteLength + 1) : change.bytes.byteLength;
        if (fate === 1) this.faults.tornWrites++;
        bytes = writeAt(bytes, change.position, change.bytes.subarray(0, count));
      }
    }
    inode.data = bytes;
    inode.durable = bytes.slice();
    inode.pending = [];
  }

  /**
   * Flips one seeded bit in one seeded file whose name passes `filter` (durable and cached
   * bytes alike, as media damage would); resolves what it flipped, or undefined without a file.
   */
  flipBit(filter: (file: string) => boolean): { file: string; position: number } | undefined {
    const files = [...this.#entries]
      .filter(([at, entry]) => entry.kind === 'file' && entry.inode.data.byteLength > 0 && filter(at))
      .sort(([left], [right]) => (left < right ? -1 : 1));
    if (files.length === 0) return undefined;
    const [file, entry] = files[this.#random.below(files.length)]!;
    const inode = (entry as { inode: Inode }).inode;
    const position = this.#random.below(inode.data.byteLength);
    const mask = 1 << this.#random.below(8);
    inode.data[position]! ^= mask;
    if (position < inode.durable.byteLength) inode.durable[position]! ^= mask;
    this.faults.bitFlips++;
    return { file, position };
  }

  /** A copy of a file's current bytes, or undefined (for checks and reports). */
  readNow(file: string): Uint8Array | undefined {
    const entry = this.#entries.get(file);
    return entry?.kind === 'file' ? entry.inode.data.slice() : undefined;
  }

  /** Every file path, sorted. */
  files(): string[] {
    return [...this.#entries]
      .filter(([, entry]) => entry.kind === 'file')
      .map(([at]) => at)
      .sort();
  }

  /** @internal A new empty inode. */
  newInode(): Inode {
    return { data: new Uint8Array(0), durable: new Uint8Array(0), pending: [], mtimeMs: this.now() };
  }
}

function setEntry(entries: Map<string, Entry>, change: MetadataChange): void {
  if (change.entry !== undefined) {
    entries.set(change.path, change.entry);
    return;
  }
  entries.delete(change.path);
  const prefix = `${change.path}/`;
  for (const at of [...entries.keys()]) if (at.startsWith(prefix)) entries.delete(at);
}
