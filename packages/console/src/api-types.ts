/**
 * The JSON the console's server sends and its page reads: one set of types for both sides, so a
 * change to a response is a type error in the page. Offsets are decimal strings (Kafka's int64
 * does not fit a JSON number).
 */

/** A key or value as the page shows it: pretty-printed JSON, UTF-8 text, or hex for binary. */
export interface PayloadView {
  readonly kind: 'json' | 'text' | 'hex';
  readonly text: string;
  readonly sizeBytes: number;
}

/** One stored message. */
export interface MessageView {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestampMs: number;
  readonly key: PayloadView | null;
  readonly value: PayloadView | null;
  readonly headers: readonly (readonly [string, string])[];
  /** The CloudEvents attributes (`ce_*` headers without the prefix), when the message is one. */
  readonly cloudEvent: Readonly<Record<string, string>> | null;
}

/** A partition of a topic. */
export interface PartitionView {
  readonly partition: number;
  readonly logStartOffset: string;
  readonly highWatermark: string;
  readonly sizeBytes: number | null;
}

/** A topic with its partitions. */
export interface TopicView {
  readonly name: string;
  readonly partitions: readonly PartitionView[];
  /** Messages retained over every partition. */
  readonly messages: string;
  readonly retentionNote: string;
}

/** `GET /api/topics/:topic/messages?partition&offset&limit`: a page of one partition. */
export interface MessagePage {
  readonly messages: readonly MessageView[];
  /** Where the next page starts. */
  readonly nextOffset: string;
  readonly highWatermark: string;
}

/** One partition of a group's position. */
export interface PartitionLagView {
  readonly partition: number;
  readonly committed: string | null;
  readonly end: string;
  readonly lag: string;
  readonly timeLagMs: number;
}

/** A group's position on one topic. */
export interface GroupPositionView {
  readonly topic: string;
  readonly kind: 'kafka' | 'embedded';
  /** Live members, null when the target cannot tell. */
  readonly members: number | null;
  readonly lag: string;
  readonly timeLagMs: number;
  readonly partitions: readonly PartitionLagView[];
}

/** A group with its positions and lag. */
export interface GroupView {
  readonly group: string;
  readonly positions: readonly GroupPositionView[];
  /** Lag over every topic. */
  readonly lag: string;
}

/** `POST /api/groups/reset`: move a group on a topic (refused with 409 while it has live members). */
export interface ResetRequest {
  readonly group: string;
  readonly topic: string;
  /** `earliest`, `latest`, `offset:N` or `time:ISO`, as `herald groups reset --to`. */
  readonly to: string;
}

/** A pending dead letter. */
export interface DeadLetterView {
  readonly id: string;
  readonly deadLetterTopic: string;
  readonly topic: string;
  readonly group: string;
  readonly reason: string;
  readonly errorName: string;
  readonly errorMessage: string;
  readonly attempts: number;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  readonly originalPartition: number;
  readonly originalOffset: string;
  /** The original message, as it will be redriven. */
  readonly original: MessageView;
}

/** `POST /api/dead-letters/redrive`: republish one dead letter to the group that failed it. */
export interface RedriveRequest {
  readonly deadLetterTopic: string;
  readonly id: string;
}

/** `POST /api/dead-letters/redrive-all`: redrive every pending dead letter matching the filter (each given field must match). */
export interface RedriveAllRequest {
  readonly group?: string | undefined;
  readonly reason?: string | undefined;
}

/** What a redrive-all did. */
export interface RedriveAllResult {
  readonly redriven: number;
  /** True when more matched than one request redrives ({@link RedriveAllResult.redriven} is the bound). */
  readonly more: boolean;
}

/** Search progress, sent as the SSE event `progress` and, last, `done`. */
export interface SearchProgress {
  readonly scanned: number;
  readonly budget: number;
  /** Events retained in the topics searched when it started: the search reads at most min(this, budget). */
  readonly retained: number;
  readonly matches: number;
  /** Set on `done`: why the search ended. */
  readonly stoppedBy?: 'end' | 'budget' | 'limit';
}

/** One event of a traced flow. */
export interface TraceStep {
  readonly id: string;
  readonly causationId: string | null;
  /** The producing service, from the CloudEvents source (`/checkout/order` → `order`). */
  readonly service: string;
  readonly type: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestampMs: number;
  /** Milliseconds since the flow's first event. */
  readonly sinceStartMs: number;
  /** Depth in the causation tree (0: the flow's first event). */
  readonly depth: number;
  /** On a dead-letter topic: a failed step. */
  readonly failed: boolean;
  /** The handler runs of this event, from the span file (absent without one). */
  readonly runs?: readonly HandlerRunView[];
}

/** One handler run of an event: a bus's `process <topic>` span. */
export interface HandlerRunView {
  readonly group: string;
  /** The consuming service (its bus's CloudEvents source, last segment). */
  readonly service: string;
  readonly attempt: number;
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly failed: boolean;
  /** The failure's message (or error type) when it failed. */
  readonly error: string | null;
  /** The run ended by dead-lettering the message. */
  readonly deadLettered: boolean;
}

/** `GET /api/trace?q`: the flow's events in causation order. */
export interface TraceView {
  /** What was traced: a correlation id, an event id or a key (an order id). */
  readonly query: string;
  readonly steps: readonly TraceStep[];
  readonly scanned: number;
  /** True when the scan budget ran out before every topic was read. */
  readonly truncated: boolean;
  /** Where the handler runs came from, when the console has a span file (`--traces`). */
  readonly spans?: {
    readonly file: string;
    readonly lines: number;
    /** True when the file had more lines than one request reads. */
    readonly truncated: boolean;
    /** Why no runs could be read, or null. */
    readonly note: string | null;
  };
}

/** A service in the topology: from its buses' announcements on `herald.services`, or only seen as a producer. */
export interface TopologyServiceView {
  readonly name: string;
  /** False when no bus of it announced itself (seen only as the CloudEvents source of messages). */
  readonly announced: boolean;
  /** Buses of the service announced `up` within 3× their interval. */
  readonly instances: number;
  /** Buses whose last announcement is older than 3× their interval (crashed or cut off). */
  readonly silentInstances: number;
  /** Buses whose last announcement was `leaving` (stopped), within the announcements read. */
  readonly stoppedInstances: number;
  readonly transports: readonly string[];
  readonly heraldVersions: readonly string[];
  /** Contracts it publishes or sends (announced). */
  readonly publishes: readonly { readonly type: string; readonly topic: string; readonly kind: string }[];
  /** Its subscriptions (announced). */
  readonly handlers: readonly {
    readonly topic: string;
    readonly group: string;
    readonly types: readonly string[];
  }[];
  /** When it last announced itself (ms since the epoch), null when never. */
  readonly lastSeenMs: number | null;
}

/** A topic in the topology. */
export interface TopologyTopicView {
  readonly name: string;
  readonly partitions: number;
  /** Messages retained over every partition. */
  readonly messages: string;
  /** Messages appended per second over the rate window; null until the window has two samples. */
  readonly ratePerSecond: number | null;
}

/** A consumer group in the topology. */
export interface TopologyGroupView {
  readonly group: string;
  /** Live members, null when the target cannot tell. */
  readonly members: number | null;
  /** Lag over every topic it reads. */
  readonly lag: string;
  /** Age of its oldest unconsumed message, in ms (0 when caught up). */
  readonly timeLagMs: number;
  /** Messages it committed per second over the rate window; null until the window has two samples. */
  readonly ratePerSecond: number | null;
  /** The services whose handlers run in it (announced). */
  readonly services: readonly string[];
}

/**
 * An edge: `produces` service → topic, `consumes` topic → group, `handles` group → service. `from`
 * and `to` are node ids: `service:<name>`, `topic:<name>`, `group:<name>`.
 */
export interface TopologyEdgeView {
  readonly from: string;
  readonly to: string;
  readonly kind: 'produces' | 'consumes' | 'handles';
  /** Messages per second along it over the rate window; null when unknown. */
  readonly ratePerSecond: number | null;
  /** On `consumes`: the group's lag on that topic. */
  readonly lag?: string;
}

/** `GET /api/topology`: producers → topics → consumer groups → services, with rates and lag. */
export interface TopologyView {
  readonly services: readonly TopologyServiceView[];
  readonly topics: readonly TopologyTopicView[];
  readonly groups: readonly TopologyGroupView[];
  readonly edges: readonly TopologyEdgeView[];
  /**
   * Topics whose newest records were not sampled (beyond the request's bound of 200): their
   * producers come from the announcements only. 0 when every topic was sampled.
   */
  readonly unsampledTopics: number;
  /** The window rates are measured over, in ms. */
  readonly rateWindowMs: number;
  /** When this was read (ms since the epoch). */
  readonly readAtMs: number;
}

/**
 * An error response: `{ error, code }` with an HTTP status. `code` is a `CLI_*` code of
 * `@herald/errors`, or `CONSOLE_READ_ONLY` (403) for a write to a console started `--read-only`.
 */
export interface ErrorView {
  readonly error: string;
  readonly code: string;
}

/**
 * `POST /api/produce`: publish one message, as `herald produce` does. Refused with 403
 * (`CONSOLE_READ_ONLY`) when the console runs with `--read-only`.
 */
export interface ProduceRequest {
  readonly topic: string;
  /** The key as text (same key, same partition); null or empty for none. */
  readonly key: string | null;
  /** Header names to values (a JSON object in the form). */
  readonly headers: Readonly<Record<string, string>>;
  /** The value as the form holds it: JSON (sent compact), UTF-8 text, or hex bytes (`ff 00 10`). */
  readonly value: string;
  readonly valueKind: PayloadView['kind'];
  /**
   * Wraps the value as a CloudEvent of this type (binary mode, `ce_*` headers), as
   * `herald produce --cloudevent TYPE`; empty or absent for a plain message.
   */
  readonly cloudEventType?: string | undefined;
  /**
   * Gives the message a fresh `ce_id` when its headers carry one (a re-produced event): an
   * idempotent consumer would skip the same id as a duplicate.
   */
  readonly newEventId?: boolean | undefined;
}

/** What `POST /api/produce` published. */
export interface ProduceResult {
  readonly topic: string;
  /** The partition the key maps to (null without a key: the target picks one). */
  readonly partition: number | null;
  /** Bytes of the value as published. */
  readonly sizeBytes: number;
  /** The published `ce_id`, when the message is a CloudEvent. */
  readonly eventId: string | null;
}

/** `GET /api/settings`: what this console allows, so the page shows only what works. */
export interface ConsoleSettings {
  /** Started with `--read-only`: produce, group resets and redrives are refused. */
  readonly readOnly: boolean;
  /** Largest produce request body, in bytes. */
  readonly produceBodyBytesMax: number;
}
