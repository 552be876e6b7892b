/**
 * Helpers of the log tests: crash images and a file system with injectable faults. The generic
 * ones (temporary directories, waits, deadlines) come from `@herald/test-support`.
 */

import { cp, readdir } from 'node:fs/promises';
import path from 'node:path';
import { type FileSystem, LOCK_FILE_NAME, nodeFileSystem } from '../../src/index.ts';

/**
 * Copies the files of a partition that is still open (except its lock) to `target`: what the disk
 * would hold if the process died now (stale checkpoint, no index files for the active segment).
 */
export async function crashImage(source: string, target: string): Promise<void> {
  for (const name of await readdir(source)) {
    if (name !== LOCK_FILE_NAME) {
      await cp(path.join(source, name), path.join(target, name));
    }
  }
}

/** Which operation should fail next, and with which errno code. */
export interface FaultPlan {
  fdatasync?: string;
  writev?: string;
  mkdir?: string;
}

/** A file system that counts syncs and throws the planned errors (each plan entry fires until cleared). */
export function faultyFileSystem(plan: FaultPlan): FileSystem & { fdatasyncCalls: number } {
  const fail = (code: string): never => {
    throw Object.assign(new Error(`injected ${code}`), { code });
  };
  const wrapper = {
    ...nodeFileSystem,
    fdatasyncCalls: 0,
    async fdatasync(fd: number) {
      wrapper.fdatasyncCalls++;
      if (plan.fdatasync !== undefined) {
        fail(plan.fdatasync);
      }
      return nodeFileSystem.fdatasync(fd);
    },
    async writev(fd: number, buffers: readonly Uint8Array[], position: number) {
      if (plan.writev !== undefined) {
        fail(plan.writev);
      }
      return nodeFileSystem.writev(fd, buffers, position);
    },
    async mkdir(directory: string) {
      if (plan.mkdir !== undefined) {
        fail(plan.mkdir);
      }
      return nodeFileSystem.mkdir(directory);
    },
  };
  return wrapper;
}

/** A value of `size` bytes whose content identifies `index`. */
export function valueFor(index: number, size = 100): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at++) {
    bytes[at] = (index * 31 + at) & 0xff;
  }
  return bytes;
}
