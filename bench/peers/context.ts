/**
 * The run's side of {@link SystemContext}: what the systems share (servers started once, peer
 * servers probed once), what they report (versions, notes), and closing it all in reverse order.
 */
import path from 'node:path';
import type { ProgressBar } from '../_common.ts';
import { ensurePeer, type PeerServer } from '../_servers.ts';
import type { SharedServer, Skipped, System, SystemContext, SystemEntry } from './system.ts';

/** A {@link SystemContext} plus what the run needs from it afterwards. */
export interface RunContext extends SystemContext {
  readonly versions: Map<string, string>;
  readonly notes: string[];
  /** Stops the shared servers, the last started first; never rejects. */
  close(): Promise<void>;
}

/** A context whose row directories live under `scratch`; peer start-ups are noted on `progress`. */
export function runContext(runId: string, scratch: string, progress: ProgressBar): RunContext {
  const peers = new Map<PeerServer, Promise<string | undefined>>();
  const servers = new Map<string, Promise<SharedServer<unknown>>>();
  const versions = new Map<string, string>();
  const notes: string[] = [];
  return {
    runId,
    versions,
    notes,
    directory: (name) => path.join(scratch, name),
    peer: async (name) => {
      let probe = peers.get(name);
      if (probe === undefined) {
        probe = ensurePeer(name, (text) => progress.note(text));
        peers.set(name, probe);
      }
      const reason = await probe;
      if (reason !== undefined) throw new Error(reason);
    },
    shared: async <T>(key: string, start: () => Promise<SharedServer<T>>): Promise<T> => {
      let server = servers.get(key);
      if (server === undefined) {
        server = start();
        servers.set(key, server);
      }
      return ((await server) as SharedServer<T>).value;
    },
    version: (name, version) => {
      versions.set(name, version);
    },
    note: (text) => {
      notes.push(text);
    },
    close: async () => {
      for (const server of [...servers.values()].reverse()) {
        await server.then((started) => started.stop()).catch(() => {});
      }
    },
  };
}

/**
 * Opens each entry in order (ticking `progress` once per entry): the systems that opened, and the
 * ones skipped with the reason their `open` gave.
 */
export async function openSystems(
  entries: readonly SystemEntry[],
  context: SystemContext,
  progress: ProgressBar,
): Promise<{ systems: System[]; skipped: Skipped[] }> {
  const systems: System[] = [];
  const skipped: Skipped[] = [];
  for (const entry of entries) {
    progress.note(`connecting: ${entry.label}`);
    try {
      systems.push(await entry.open(context));
      progress.tick(`ready: ${entry.label}`);
    } catch (error) {
      skipped.push({ id: entry.id, label: entry.label, reason: (error as Error).message });
      progress.tick(`skipped: ${entry.label}`);
    }
  }
  return { systems, skipped };
}
