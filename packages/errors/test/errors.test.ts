/**
 * The error root: the code lists, `HeraldError` itself, and (a monorepo-level check, so it imports
 * the sibling packages from this workspace) that every error class a Herald package throws on
 * purpose is a `HeraldError` whose code is listed here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BrokerError, DirectoryLockedError } from '@herald/broker';
import {
  ClosedError,
  ConfigurationError,
  DecodeError,
  PayloadTooLargeError,
  RemoteError,
  TimeoutError,
  TransportError,
  UnrecoverableError,
  ValidationError,
} from '@herald/bus';
import { KafkaProtocolError } from '@herald/kafka-protocol';
import { KafkaServerConfigError } from '@herald/kafka-server';
import { LogError, LogLockedError } from '@herald/log';
import { CliError, EXIT, UsageError } from '../../cli/src/errors.ts';
import {
  BUS_ERROR_CODES,
  CLI_ERROR_CODES,
  ERROR_CODES,
  HeraldError,
  isErrorCode,
  isHeraldError,
  KAFKA_PROTOCOL_ERROR_CODES,
  LOG_ERROR_CODES,
} from '../src/index.ts';

describe('errors - one root', () => {
  test('every code is listed once, and the per-package lists make up the whole', () => {
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no duplicate codes');
    assert.deepEqual(ERROR_CODES, [
      ...BUS_ERROR_CODES,
      ...LOG_ERROR_CODES,
      ...KAFKA_PROTOCOL_ERROR_CODES,
      ...CLI_ERROR_CODES,
    ]);
    for (const code of ERROR_CODES) assert.match(code, /^[A-Z]+(_[A-Z]+)+$/);
    assert.ok(isErrorCode('LOG_LOCKED'));
    assert.ok(!isErrorCode('LOG_NOPE'));
  });

  test('HeraldError keeps code, retriable, cause and the subclass name', () => {
    const cause = new Error('disk');
    const error = new HeraldError('HERALD_TRANSPORT', 'broker refused', { retriable: true, cause });
    assert.equal(error.code, 'HERALD_TRANSPORT');
    assert.equal(error.retriable, true);
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'HeraldError');
    assert.equal(new HeraldError('HERALD_CLOSED', 'closed').retriable, false);
    assert.ok(!('cause' in new HeraldError('HERALD_CLOSED', 'closed')), 'no cause property when none given');
  });

  test('every error class Herald throws on purpose is a HeraldError with a listed code', () => {
    const errors: [HeraldError, string][] = [
      [new ValidationError('payload', [{ path: 'a', message: 'required' }]), 'HERALD_VALIDATION'],
      [new ConfigurationError('bad'), 'HERALD_CONFIGURATION'],
      [new ClosedError('bus'), 'HERALD_CLOSED'],
      [new PayloadTooLargeError('orders', 2, 1), 'HERALD_PAYLOAD_TOO_LARGE'],
      [new DecodeError('bad bytes'), 'HERALD_DECODE'],
      [new TimeoutError('late'), 'HERALD_TIMEOUT'],
      [new UnrecoverableError('no'), 'HERALD_UNRECOVERABLE'],
      [new TransportError('down'), 'HERALD_TRANSPORT'],
      [new RemoteError('Error', 'boom'), 'HERALD_REMOTE'],
      [new LogError('LOG_CORRUPT', 'crc'), 'LOG_CORRUPT'],
      [new LogLockedError('/data', 42, 'locked'), 'LOG_LOCKED'],
      [new KafkaProtocolError('KAFKA_MALFORMED', 'short'), 'KAFKA_MALFORMED'],
      [new KafkaServerConfigError('no'), 'HERALD_CONFIGURATION'],
      [new DirectoryLockedError('/data', 42, 'locked', undefined), 'HERALD_TRANSPORT'],
      [new CliError('gone', EXIT.notFound), 'CLI_NOT_FOUND'],
      [new CliError('down', EXIT.unavailable), 'CLI_UNAVAILABLE'],
      [new UsageError('what?'), 'CLI_USAGE'],
    ];
    for (const [error, code] of errors) {
      assert.ok(error instanceof HeraldError, `${error.name} is a HeraldError`);
      assert.ok(isHeraldError(error, code as HeraldError['code']), `${error.name} has code ${code}`);
      assert.ok(isErrorCode(error.code), `${error.name}'s code is listed`);
      assert.equal(error.name, error.constructor.name);
    }
    assert.equal(new CliError('down', EXIT.unavailable).retriable, true);
    assert.equal(new UsageError('what?').exitCode, EXIT.usage);
  });

  test('DirectoryLockedError carries the directory and the holder pid as fields', () => {
    const error = new DirectoryLockedError('/data', 4242, 'directory is locked by process 4242', undefined);
    assert.ok(error instanceof BrokerError);
    assert.equal(error.reason, 'BROKER_LOCKED');
    assert.equal(error.dir, '/data');
    assert.equal(error.pid, 4242);
    assert.equal(error.retriable, true);
    assert.equal(new DirectoryLockedError('/data', undefined, 'locked', undefined).pid, undefined);
  });
});
