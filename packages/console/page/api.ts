/// <reference lib="dom" />
/** The page's side of the typed API: every call is typed by the server's own response types. */
import type {
  ConsoleSettings,
  DeadLetterView,
  GroupView,
  MessagePage,
  ProduceRequest,
  ProduceResult,
  RedriveAllRequest,
  RedriveAllResult,
  RedriveRequest,
  ResetRequest,
  TopicView,
  TopologyView,
  TraceView,
} from '../src/api-types.ts';

const token = new URLSearchParams(location.search).get('token');

/** `path` with the console's token, when it has one. */
export function withToken(path: string): string {
  if (token === null) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

async function call<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(
    withToken(path),
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  const json = (await response.json()) as T | { error: string };
  if (!response.ok) throw new Error((json as { error: string }).error);
  return json as T;
}

/** The server's routes. */
export const api = {
  settings: () => call<ConsoleSettings>('/api/settings'),
  topics: () => call<TopicView[]>('/api/topics'),
  produce: (request: ProduceRequest) => call<ProduceResult>('/api/produce', request),
  /** A page of one partition from `offset`, or from the first message at or after `time` when given. */
  messages: (topic: string, partition: number, offset: string, limit: number, time = '') =>
    call<MessagePage>(
      `/api/messages?topic=${encodeURIComponent(topic)}&partition=${partition}&offset=${offset}&limit=${limit}&time=${encodeURIComponent(time)}`,
    ),
  groups: () => call<GroupView[]>('/api/groups'),
  reset: (request: ResetRequest) => call<{ ok: true }>('/api/groups/reset', request),
  deadLetters: () => call<DeadLetterView[]>('/api/dead-letters'),
  redrive: (request: RedriveRequest) => call<{ ok: true }>('/api/dead-letters/redrive', request),
  redriveAll: (request: RedriveAllRequest) =>
    call<RedriveAllResult>('/api/dead-letters/redrive-all', request),
  trace: (query: string) => call<TraceView>(`/api/trace?q=${encodeURIComponent(query)}`),
  topology: () => call<TopologyView>('/api/topology'),
};
