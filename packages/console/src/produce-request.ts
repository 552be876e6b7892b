/**
 * The checks of a produce request, shared by the page (before it sends) and the server (before it
 * publishes): one implementation, so the page's messages are the server's. No Node or DOM APIs
 * here: esbuild bundles this module into the page.
 */
import type { MessageView, ProduceRequest } from './api-types.ts';

/** Header entries one produced message carries at most. */
export const PRODUCE_HEADERS_MAX = 100;

/** Hex bytes as the console shows them: pairs of hex digits, spaces between allowed. */
const HEX = /^(?:[0-9a-fA-F]{2}\s*)*$/;

/**
 * The problems of `request` (empty when it can be published), each saying what to change. Takes
 * `unknown` because the server checks a parsed body before trusting its shape.
 */
export function produceRequestProblems(request: unknown): string[] {
  if (typeof request !== 'object' || request === null) return ['the request must be a JSON object'];
  const r = request as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof r.topic !== 'string' || r.topic === '') problems.push('choose a topic');
  if (r.key !== null && r.key !== undefined && typeof r.key !== 'string') {
    problems.push('the key must be text (or empty for none)');
  }
  const headers = r.headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    problems.push('headers must be a JSON object of names to text values, e.g. {"source":"console"}');
  } else {
    const entries = Object.entries(headers);
    if (entries.length > PRODUCE_HEADERS_MAX) {
      problems.push(`at most ${PRODUCE_HEADERS_MAX} headers, got ${entries.length}`);
    }
    for (const [name, value] of entries) {
      if (name === '') problems.push('a header name is empty');
      if (typeof value !== 'string') {
        problems.push(`header "${name}" must be a text value (put numbers in quotes)`);
      }
    }
  }
  if (typeof r.value !== 'string') problems.push('the value must be a string');
  else if (r.valueKind === 'json') {
    try {
      JSON.parse(r.value);
    } catch (error) {
      problems.push(`the value is not valid JSON (${(error as Error).message}); fix it or choose "text"`);
    }
  } else if (r.valueKind === 'hex') {
    if (!HEX.test(r.value.trim())) {
      problems.push('the value is not hex bytes: pairs of 0-9 a-f, e.g. "ff 00 10"');
    }
  } else if (r.valueKind !== 'text') problems.push('valueKind must be "json", "text" or "hex"');
  if (r.cloudEventType !== undefined && typeof r.cloudEventType !== 'string') {
    problems.push('the CloudEvent type must be text (or empty for a plain message)');
  }
  if (r.newEventId !== undefined && typeof r.newEventId !== 'boolean') {
    problems.push('newEventId must be true or false');
  }
  return problems;
}

/** Parses a headers field of the form (a JSON object); the problem text when it is not one. */
export function parseHeadersField(text: string): Record<string, string> | string {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `headers are not valid JSON (${(error as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'headers must be a JSON object of names to text values, e.g. {"source":"console"}';
  }
  return parsed as Record<string, string>;
}

/**
 * The request that re-produces `message` (to be edited in the form), or the reason it cannot be:
 * a binary key, or a binary value the console shows cut.
 */
export function reproduceRequestOf(message: MessageView): ProduceRequest | string {
  if (message.key?.kind === 'hex') {
    return 'its key is binary; the console produces text keys (use herald produce from a file)';
  }
  const value = message.value;
  if (value?.kind === 'hex' && value.text.replace(/\s/g, '').length / 2 < value.sizeBytes) {
    return `its binary value (${value.sizeBytes} bytes) is shown cut; use herald produce from a file`;
  }
  return {
    topic: message.topic,
    key: message.key?.text ?? null,
    headers: Object.fromEntries(message.headers),
    value: value?.text ?? '',
    valueKind: value?.kind ?? 'text',
    newEventId: message.headers.some(([name]) => name === 'ce_id'),
  };
}
