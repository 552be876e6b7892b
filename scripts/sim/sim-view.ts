/**
 * One process incarnation's {@link FileSystem} on a {@link SimDisk} (see sim-disk.ts for the
 * model): every call is counted and may carry an injected failure; writes go to the page cache
 * and are remembered until a sync; directory changes are metadata ops until their directory is
 * fsynced. A dead incarnation's calls fail at once without touching the disk.
 */
import path from 'node:path';
import type { FileStats, FileSystem } from '@herald/log';
import type { SimDisk } from './sim-disk.ts';
import { type Entry, type Inode, type MetadataChange, resize, systemError, writeAt } from './sim-inode.ts';

/** Bound on open descriptors of one view: more means a leak in the code under test. */
const DESCRIPTORS_MAX = 10_000;

/** One incarnation's view of a {@link SimDisk}. */
export class SimView implements FileSystem {
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
