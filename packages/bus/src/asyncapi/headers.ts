/**
 * The CloudEvents headers of a Herald message (binary content mode: each attribute is a `ce_`
 * header), as the AsyncAPI message's `headers` schema. They mirror `envelope.ts`'s encoding.
 */
import type { Contract } from '../contracts.ts';

/** JSON Schema (draft-07) of the headers of `contract`'s messages. */
export function cloudEventsHeaders(contract: Contract): Record<string, unknown> {
  const text = (description: string) => ({ type: 'string', description });
  return {
    type: 'object',
    required: ['ce_specversion', 'ce_id', 'ce_source', 'ce_type', 'content-type'],
    properties: {
      ce_specversion: { type: 'string', const: '1.0', description: 'CloudEvents version.' },
      ce_id: text('Unique per source; consumers deduplicate on (source, id).'),
      ce_source: text('The publishing bus (its `source` option).'),
      ce_type: { type: 'string', const: contract.type, description: 'The contract type.' },
      ce_time: { type: 'string', format: 'date-time', description: 'When it was published.' },
      ce_dataversion: {
        type: 'string',
        pattern: '^[1-9][0-9]*$',
        description: `Payload version (current: ${contract.version}); older versions are upcast on consume. Absent: 1.`,
      },
      ce_subject: text('What the message is about, when the contract derives one.'),
      ce_partitionkey: text('The ordering key, when the contract derives one.'),
      ce_correlationid: text('The id of the first message of the conversation.'),
      ce_causationid: text('The id of the message whose handler sent this one.'),
      ce_traceparent: text('W3C trace context of the publish.'),
      ...(contract.kind === 'query' ? { ce_replyto: text('The topic the reply goes to.') } : {}),
      'content-type': { type: 'string', const: 'application/json' },
    },
  };
}
