/**
 * What every request handler gets: the broker, this node's advertised address, the server's
 * settings and the shared group coordinator.
 */
import type { Broker } from '@herald/broker';
import type { GroupCoordinator } from './group-coordinator.ts';
import type { ProducerStateManager } from './producer-state.ts';
import type { Authorizer } from './security/authorizer.ts';
import type { TopicCache } from './topic-cache.ts';

/** The node id of this single-node cluster. */
export const NODE_ID = 0;

/** Shared state of one server. */
export interface ServerContext {
  readonly broker: Broker;
  readonly topics: TopicCache;
  readonly groups: GroupCoordinator;
  /** Idempotent producers' sequence state per partition. */
  readonly producers: ProducerStateManager;
  /** Host and port clients are told to connect to. */
  readonly advertisedHost: string;
  advertisedPort: number;
  readonly clusterId: string;
  /** Partitions of auto-created topics and of CreateTopics with -1. */
  readonly defaultPartitions: number;
  readonly autoCreateTopics: boolean;
  /** Most bytes one Fetch response carries (a bound on top of the client's max_bytes). */
  readonly fetchResponseBytesMax: number;
  /** Resolves when the server starts shutting down (long polls answer early). */
  readonly closing: Promise<void>;
  /** True once the server started shutting down. */
  isClosing(): boolean;
  /** Set when ACLs are enforced (`KafkaServerOptions.acls`); absent, every request is allowed. */
  readonly authorizer?: Authorizer;
  /** Reports an unexpected error (logged by the CLI). */
  readonly onError: (error: unknown) => void;
  /** Told the size of every response frame encoded (see `KafkaServerOptions.onResponse`). */
  readonly onResponse?: (response: ResponseSize) => void;
}

/** One encoded response: its API, version and size. */
export interface ResponseSize {
  readonly apiKey: number;
  readonly apiVersion: number;
  /** The frame's size field: every byte after it (header and body), as a client checks it. */
  readonly bytes: number;
}
