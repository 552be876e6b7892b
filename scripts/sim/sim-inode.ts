/**
 * The storage-fault simulation's in-memory file model, shared by the disk (sim-disk.ts) and the
 * views processes use (sim-view.ts): inodes, directory entries, metadata changes, byte helpers.
 */

/** A file's bytes as the page cache and the disk hold them. */
export interface Inode {
  /** What reads see (the page cache). */
  data: Uint8Array;
  /** What survives a crash once fsynced. */
  durable: Uint8Array;
  /** Writes and truncates since the last sync, oldest first (dropped by a failed sync). */
  pending: ({ kind: 'write'; position: number; bytes: Uint8Array } | { kind: 'truncate'; length: number })[];
  mtimeMs: number;
}

/** A directory entry. */
export type Entry = { kind: 'dir' } | { kind: 'file'; inode: Inode };

/** A directory-entry change: `entry` undefined removes the path (and, for a directory, its tree). */
export interface MetadataChange {
  readonly path: string;
  readonly entry: Entry | undefined;
}

/** One metadata operation: its changes survive a crash together or not at all. */
export interface MetadataOp {
  readonly changes: readonly MetadataChange[];
  /** Directories whose fsync makes this op durable. */
  readonly directories: readonly string[];
}

/** A system error as node:fs reports it. */
export function systemError(code: string, call: string, where: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${call} ${where} (simulated)`), { code, syscall: call });
}

/** `bytes` cut or zero-extended to `length`. */
export function resize(bytes: Uint8Array, length: number): Uint8Array {
  if (length <= bytes.byteLength) return bytes.slice(0, length);
  const grown = new Uint8Array(length);
  grown.set(bytes);
  return grown;
}

/** A copy of `bytes` with `chunk` written at `position` (extended as needed). */
export function writeAt(bytes: Uint8Array, position: number, chunk: Uint8Array): Uint8Array {
  const grown =
    position + chunk.byteLength > bytes.byteLength
      ? resize(bytes, position + chunk.byteLength)
      : bytes.slice();
  grown.set(chunk, position);
  return grown;
}
