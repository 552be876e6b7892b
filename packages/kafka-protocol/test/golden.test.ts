/**
 * Golden frames: bytes as real clients send them (from the protocol grammar and the clients'
 * sources), compared byte for byte in both directions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_KEY, decodeRequest, encodeRequest, encodeResponse } from '../src/index.ts';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

test('golden - kafka-python ApiVersions v0 probe', { timeout: 60_000 }, () => {
  const frame = hex('0000001c 0012 0000 00000001 0012 6b61666b612d707974686f6e2d322e302e32');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  assert.deepEqual(decoded.header, {
    apiKey: 18,
    apiVersion: 0,
    correlationId: 1,
    clientId: 'kafka-python-2.0.2',
  });
  assert.deepEqual(
    Buffer.concat(encodeRequest(decoded.header, decoded.kind === 'request' ? (decoded.body as object) : {})),
    frame,
  );
});

test('golden - librdkafka ApiVersions v3 (request header v2, compact strings)', { timeout: 60_000 }, () => {
  const frame = hex(
    '00000024 0012 0003 00000002 0007 72646b61666b61 00 0b 6c69627264 6b61666b61 06 322e302e32 00',
  );
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
});

test('golden - ApiVersions v3 response keeps header v0 and uses a compact array', { timeout: 60_000 }, () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.ApiVersions, 3, 2, {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
    }),
  );
  assert.deepEqual(bytes, hex('00000013 00000002 0000 02 0012 0000 0003 00 00000000 00'));
});

test('golden - ApiVersions v0 response (the unsupported-version answer)', { timeout: 60_000 }, () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.ApiVersions, 0, 9, {
      errorCode: 35,
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 8 }],
    }),
  );
  assert.deepEqual(bytes, hex('00000010 00000009 0023 00000001 0000 0000 0008'));
});

test('golden - Metadata v0 request with an empty topic list', { timeout: 60_000 }, () => {
  const frame = hex('0000000e 0003 0000 00000002 0000 00000000');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, {
    topics: [],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
});

test('golden - kafka-python ListGroups request (its ListGroupsRequest_v2 class sends version 1)', {
  timeout: 60_000,
}, () => {
  const frame = hex('0000001c 0010 0001 00000007 0012 6b61666b612d707974686f6e2d322e302e32');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.header, {
    apiKey: API_KEY.ListGroups,
    apiVersion: 1,
    correlationId: 7,
    clientId: 'kafka-python-2.0.2',
  });
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
});

test('golden - ListGroups v2 response as kafka-python encodes it', { timeout: 60_000 }, () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.ListGroups, 2, 7, {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: [
        { groupId: 'audit', protocolType: 'consumer' },
        { groupId: 'kp', protocolType: 'consumer' },
      ],
    }),
  );
  assert.deepEqual(
    bytes,
    hex(
      '0000002d 00000007 00000000 0000 00000002 0005 6175646974 0008 636f6e73756d6572 0002 6b70 0008 636f6e73756d6572',
    ),
  );
});

test('golden - kafka-python DescribeGroups v0 and v3 requests', { timeout: 60_000 }, () => {
  const v0 = hex('00000023 000f 0000 00000009 0012 6b61666b612d707974686f6e2d322e302e32 00000001 0001 67');
  const decodedV0 = decodeRequest(v0.subarray(4));
  assert.equal(decodedV0.kind, 'request');
  if (decodedV0.kind !== 'request') return;
  assert.deepEqual(decodedV0.body, { groups: ['g'], includeAuthorizedOperations: false });
  assert.deepEqual(Buffer.concat(encodeRequest(decodedV0.header, decodedV0.body as object)), v0);

  const v3 = hex(
    '00000031 000f 0003 00000008 0012 6b61666b612d707974686f6e2d322e302e32 00000002 0006 6f7264657273 0006 6e6f626f6479 01',
  );
  const decodedV3 = decodeRequest(v3.subarray(4));
  assert.equal(decodedV3.kind, 'request');
  if (decodedV3.kind !== 'request') return;
  assert.deepEqual(decodedV3.body, { groups: ['orders', 'nobody'], includeAuthorizedOperations: true });
  assert.deepEqual(Buffer.concat(encodeRequest(decodedV3.header, decodedV3.body as object)), v3);
});

test('golden - DescribeGroups v1 response (a Stable group with a member, a Dead one) as kafka-python encodes it; v3 adds authorized_operations per group', {
  timeout: 60_000,
}, () => {
  const groups = [
    {
      errorCode: 0,
      groupId: 'audit',
      groupState: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
      members: [
        {
          memberId: 'm-1',
          clientId: 'c1',
          clientHost: '/127.0.0.1',
          memberMetadata: Uint8Array.of(0, 1),
          memberAssignment: Uint8Array.of(0, 2, 3),
        },
      ],
      authorizedOperations: 328,
    },
    { errorCode: 0, groupId: 'nobody', groupState: 'Dead', protocolType: '', protocolData: '', members: [] },
  ];
  const audit =
    '0000 0005 6175646974 0006 537461626c65 0008 636f6e73756d6572 0005 72616e6765 00000001' +
    ' 0003 6d2d31 0002 6331 000a 2f3132372e302e302e31 00000002 0001 00000003 000203';
  const nobody = '0000 0006 6e6f626f6479 0004 44656164 0000 0000 00000000';
  const v1 = Buffer.concat(encodeResponse(API_KEY.DescribeGroups, 1, 3, { throttleTimeMs: 0, groups }));
  assert.deepEqual(v1, hex(`0000006c 00000003 00000000 00000002 ${audit} ${nobody}`));
  const v3 = Buffer.concat(encodeResponse(API_KEY.DescribeGroups, 3, 3, { throttleTimeMs: 0, groups }));
  // 328 = READ|DELETE|DESCRIBE; an absent value is INT32_MIN ("not requested").
  assert.deepEqual(v3, hex(`00000074 00000003 00000000 00000002 ${audit} 00000148 ${nobody} 80000000`));
});

test('golden - DescribeConfigs v4 (flexible) request as kafka-topics --describe sends it', () => {
  // Header v2: api 32, version 4, correlation 1, client id "adminclient-1" (int16 length), no tags.
  // Body: [resources] compact (1): type TOPIC (2), name "t", configuration_keys null, tags;
  // include_synonyms false, include_documentation false, tags.
  const frame = hex(
    '00000021 0020 0004 00000001 000d 61646d696e636c69656e742d31 00  02 02 0274 00 00  00 00 00',
  );
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, {
    resources: [{ resourceType: 2, resourceName: 't', configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
});

test('golden - DescribeConfigs v4 response with one default config', () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.DescribeConfigs, 4, 1, {
      throttleTimeMs: 0,
      results: [
        {
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: 't',
          configs: [
            {
              name: 'retention.ms',
              value: '-1',
              readOnly: true,
              isDefault: true,
              configSource: 5,
              isSensitive: false,
              synonyms: [],
              configType: 5,
              documentation: null,
            },
          ],
        },
      ],
    }),
  );
  // Header v1 (correlation id, tags); is_default exists only in v0, so it is not written.
  assert.deepEqual(
    bytes,
    hex(
      '0000002a 00000001 00  00000000 02  0000 00 02 0274 02' +
        '  0d 726574656e74696f6e2e6d73 03 2d31 01 05 00 01 05 00 00  00  00',
    ),
  );
});

test('golden - DeleteGroups v2 (flexible) request and response', () => {
  const frame = hex('00000010 002a 0002 00000002 0001 63 00  02 0267 00');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, { groupsNames: ['g'] });
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
  const response = Buffer.concat(
    encodeResponse(API_KEY.DeleteGroups, 2, 2, {
      throttleTimeMs: 0,
      results: [{ groupId: 'g', errorCode: 69 }],
    }),
  );
  assert.deepEqual(response, hex('00000010 00000002 00  00000000 02 0267 0045 00 00'));
});

test('golden - OffsetDelete v0 request and response', () => {
  const frame = hex('0000001d 002f 0000 00000003 0001 63  0001 67 00000001 0001 74 00000001 00000000');
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  assert.deepEqual(decoded.body, {
    groupId: 'g',
    topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }],
  });
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
  const response = Buffer.concat(
    encodeResponse(API_KEY.OffsetDelete, 0, 3, {
      errorCode: 0,
      throttleTimeMs: 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 86 }] }],
    }),
  );
  assert.deepEqual(response, hex('0000001b 00000003 0000 00000000 00000001 0001 74 00000001 00000000 0056'));
});

test('golden - Produce v9 (flexible) request: compact nullable transactional id, compact records', () => {
  // Header v2 (client id "c"); transactional_id null (0), acks -1, timeout 30000,
  // [topic_data] (1): name "t", [partition_data] (1): index 0, records 4 bytes (length + 1 = 5), tags.
  const frame = hex(
    '00000023 0000 0009 00000005 0001 63 00  00 ffff 00007530 02 0274 02 00000000 05 61626364 00 00 00',
  );
  const decoded = decodeRequest(frame.subarray(4));
  assert.equal(decoded.kind, 'request');
  if (decoded.kind !== 'request') return;
  const body = decoded.body as { acks: number; topicData: { partitionData: { records: Uint8Array }[] }[] };
  assert.equal(body.acks, -1);
  assert.deepEqual(Buffer.from(body.topicData[0]!.partitionData[0]!.records), Buffer.from('abcd'));
  assert.deepEqual(Buffer.concat(encodeRequest(decoded.header, decoded.body as object)), frame);
});

test('golden - Fetch v12 (flexible) response: records written as compact bytes after the tagged header', () => {
  const bytes = Buffer.concat(
    encodeResponse(API_KEY.Fetch, 12, 6, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 10n,
              lastStableOffset: 10n,
              logStartOffset: 0n,
              abortedTransactions: null,
              preferredReadReplica: -1,
              records: [Buffer.from('ab'), Buffer.from('cd')],
            },
          ],
        },
      ],
    }),
  );
  assert.deepEqual(
    bytes,
    hex(
      '0000003e 00000006 00  00000000 0000 00000000 02 0274 02' +
        ' 00000000 0000 000000000000000a 000000000000000a 0000000000000000 00 ffffffff 05 61626364 00  00  00',
    ),
  );
});
