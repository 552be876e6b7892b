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
import type { FileStats, FileSystem } from '@herald/log';
import type { Random } from './random.ts';

interface Inode {
  /** What reads see (the page cache). */
  data: Uint8Array;
  /** What survives a crash once fsynced. */
  durable: Uint8Array;
  /** Writes and truncates since the last sync, oldest first (dropped by a failed sync). */
  pending: ({ kind: 'write'; position: number; bytes: Uint8Array } | { kind: 'truncate'; length: number })[];
  mtimeMs: number;
}

type Entry = { kind: 'dir' } | { kind: 'file'; inode: Inode };

/** A directory-entry change: `entry` undefined removes the path (and, for a directory, its tree). */
interface MetadataChange {
  readonly path: string;
  readonly entry: Entry | undefined;
}

/** One metadata operation: its changes survive a crash together or not at all. */
interface MetadataOp {
  readonly changes: readonly MetadataChange[];
  /** Directories whose fsync makes this op durable. */
  readonly directories: readonly string[];
}

/** A system error as node:fs reports it. */
export function systemError(code: string, call: string, where: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${call} ${where} (simulated)`), { code, syscall: call });
}

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

function resize(bytes: Uint8Array, length: number): Uint8Array {
  if (length <= bytes.byteLength) return bytes.slice(0, length);
  const grown = new Uint8Array(length);
  grown.set(bytes);
  return grown;
}

function writeAt(bytes: Uint8Array, position: number, chunk: Uint8Array): Uint8Array {
  const grown =
    position + chunk.byteLength > bytes.byteLength
      ? resize(bytes, position + chunk.byteLength)
      : bytes.slice();
  grown.set(chunk, position);
  return grown;
}

/** Bound on open descriptors of one view: more means a leak in the code under test. */
const DESCRIPTORS_MAX = 10_000;

/** One incarnation's view of a {@link SimDisk}. */
class SimView implements FileSystem {
  readonly #disk: SimDisk;
  readonly #generation: number;
  readonly #descriptors = new Map<number, { path: string; entry: Entry }>();
  #nextFd = 3;

  constructor(disk: SimDisk, generation: number) {
    this.#disk = disk;
    this.#generation = generation;
  }

  /**
   * Runs `body` as one call of a live process. A dead incarnation's calls fail at once without
   * touching the disk (and without being counted): its abandoned instances then run their close
   * paths to the end, which frees their timers and this process's record of their locks.
   */
  #call<T>(call: string, where: string, body: (state: 'ok' | 'sync-failed') => T): Promise<T> {
    if (!this.#disk.alive(this.#generation))
      return Promise.reject(systemError('EIO', call, `${where} (dead process)`));
    try {
      return Promise.resolve(body(this.#disk.enter(call, where)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #fd(call: string, fd: number): { path: string; entry: Entry } {
    const open = this.#descriptors.get(fd);
    if (open === undefined) throw systemError('EBADF', call, String(fd));
    return open;
  }

  #inode(call: string, fd: number): Inode {
    const open = this.#fd(call, fd);
    if (open.entry.kind !== 'file') throw systemError('EISDIR', call, open.path);
    return open.entry.inode;
  }

  open(file: string, flags: string): Promise<number> {
    return this.#call('open', file, () => {
      const at = path.resolve(file);
      const disk = this.#disk;
      let entry = disk.peek(at);
      if (entry !== undefined && flags.includes('x')) throw systemError('EEXIST', 'open', at);
      const creates = flags.startsWith('w') || flags.startsWith('a');
      if (entry === undefined) {
        if (!creates) throw systemError('ENOENT', 'open', at);
        if (disk.peek(path.dirname(at))?.kind !== 'dir') throw systemError('ENOENT', 'open', at);
        entry = { kind: 'file', inode: disk.newInode() };
        disk.apply([{ path: at, entry }]);
      } else if (flags.startsWith('w') && entry.kind === 'file') {
        entry.inode.data = new Uint8Array(0);
        entry.inode.pending.push({ kind: 'truncate', length: 0 });
      }
      if (this.#descriptors.size >= DESCRIPTORS_MAX) throw systemError('EMFILE', 'open', at);
      const fd = this.#nextFd++;
      this.#descriptors.set(fd, { path: at, entry });
      return fd;
    });
  }

  close(fd: number): Promise<void> {
    return this.#call('close', String(fd), () => {
      this.#fd('close', fd);
      this.#descriptors.delete(fd);
    });
  }

  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.#call('read', String(fd), () => {
      const data = this.#inode('read', fd).data;
      const count = Math.max(0, Math.min(length, data.byteLength - position));
      buffer.set(data.subarray(position, position + count), offset);
      return count;
    });
  }

  writev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<number> {
    return this.#call('writev', String(fd), () => {
      const inode = this.#inode('writev', fd);
      let total = 0;
      for (const buffer of buffers) total += buffer.byteLength;
      const bytes = new Uint8Array(total);
      let at = 0;
      for (const buffer of buffers) {
        bytes.set(buffer, at);
        at += buffer.byteLength;
      }
      inode.data = writeAt(inode.data, position, bytes);
      inode.pending.push({ kind: 'write', position, bytes });
      inode.mtimeMs = this.#disk.now();
      return total;
    });
  }

  fdatasync(fd: number): Promise<void> {
    return this.#sync('fdatasync', fd);
  }

  fsync(fd: number): Promise<void> {
    return this.#sync('fsync', fd);
  }

  #sync(call: 'fsync' | 'fdatasync', fd: number): Promise<void> {
    return this.#call(call, String(fd), (state) => {
      const open = this.#fd(call, fd);
      if (open.entry.kind === 'dir') {
        if (state === 'ok') this.#disk.syncDirectory(open.path);
      } else {
        this.#disk.syncFile(open.entry.inode, state === 'sync-failed');
      }
      if (state === 'sync-failed') throw systemError('EIO', call, open.path);
    });
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return this.#call('ftruncate', String(fd), () => {
      const inode = this.#inode('ftruncate', fd);
      inode.data = resize(inode.data, length);
      inode.pending.push({ kind: 'truncate', length });
    });
  }

  stat(file: string): Promise<FileStats> {
    return this.#call('stat', file, () => {
      const entry = this.#disk.entry('stat', path.resolve(file));
      return entry.kind === 'dir'
        ? { size: 0, mtimeMs: 0, isDirectory: true }
        : { size: entry.inode.data.byteLength, mtimeMs: entry.inode.mtimeMs, isDirectory: false };
    });
  }

  readdir(directory: string): Promise<string[]> {
    return this.#call('readdir', directory, () => {
      const at = path.resolve(directory);
      if (this.#disk.entry('readdir', at).kind !== 'dir') throw systemError('ENOTDIR', 'readdir', at);
      return this.#disk.list(at);
    });
  }

  mkdir(directory: string): Promise<void> {
    return this.#call('mkdir', directory, () => {
      const missing: MetadataChange[] = [];
      // Bounded: the root always exists, so the walk up ends there.
      for (
        let at = path.resolve(directory);
        this.#disk.peek(at) === undefined && at !== path.dirname(at);
        at = path.dirname(at)
      ) {
        missing.unshift({ path: at, entry: { kind: 'dir' } });
      }
      for (const change of missing) this.#disk.apply([change]);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.#call('rename', from, () => {
      const source = path.resolve(from);
      const target = path.resolve(to);
      const entry = this.#disk.entry('rename', source);
      if (entry.kind === 'dir') {
        // Directories move with their tree: every descendant's path changes in one op.
        const changes: MetadataChange[] = [
          { path: source, entry: undefined },
          { path: target, entry },
        ];
        for (const at of this.#disk.files().filter((file) => file.startsWith(`${source}/`))) {
          const moved = this.#disk.peek(at)!;
          changes.push({ path: `${target}${at.slice(source.length)}`, entry: moved });
        }
        this.#disk.apply(changes);
        return;
      }
      this.#disk.apply([
        { path: target, entry },
        { path: source, entry: undefined },
      ]);
    });
  }

  link(existing: string, newPath: string): Promise<void> {
    return this.#call('link', newPath, () => {
      const entry = this.#disk.entry('link', path.resolve(existing));
      if (this.#disk.peek(path.resolve(newPath)) !== undefined) throw systemError('EEXIST', 'link', newPath);
      this.#disk.apply([{ path: path.resolve(newPath), entry }]);
    });
  }

  unlink(file: string): Promise<void> {
    return this.#call('unlink', file, () => {
      const at = path.resolve(file);
      if (this.#disk.entry('unlink', at).kind === 'dir') throw systemError('EISDIR', 'unlink', at);
      this.#disk.apply([{ path: at, entry: undefined }]);
    });
  }

  removeTree(tree: string): Promise<void> {
    return this.#call('removeTree', tree, () => {
      const at = path.resolve(tree);
      if (this.#disk.peek(at) !== undefined) this.#disk.apply([{ path: at, entry: undefined }]);
    });
  }

  readFile(file: string): Promise<Uint8Array> {
    return this.#call('readFile', file, () => {
      const entry = this.#disk.entry('readFile', path.resolve(file));
      if (entry.kind !== 'file') throw systemError('EISDIR', 'readFile', file);
      return entry.inode.data.slice();
    });
  }
}
