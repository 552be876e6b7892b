import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError } from '../src/errors.ts';
import {
  integerFromEnv,
  integerOption,
  matchingOption,
  numberOption,
  oneOfOption,
  urlOption,
} from '../src/option-checks.ts';

/** Asserts `run` throws a ConfigurationError whose message is exactly `message`. */
function throwsConfiguration(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, String(error));
    assert.equal(error.message, message);
    return true;
  });
}

describe('option checks', { timeout: 10_000 }, () => {
  it('option checks - integerOption applies the default and names the option and its bounds', () => {
    assert.equal(integerOption('t', 'partitions', undefined, 4, 1, 64), 4);
    assert.equal(integerOption('t', 'partitions', 64, 4, 1, 64), 64);
    throwsConfiguration(
      () => integerOption('natsTransport', 'partitions', 0, 4, 1, 64),
      'natsTransport: partitions must be an integer from 1 to 64, got 0',
    );
    throwsConfiguration(
      () => integerOption('t', 'partitions', 1.5, 4, 1, 64),
      't: partitions must be an integer from 1 to 64, got 1.5',
    );
  });

  it('option checks - numberOption accepts fractions within bounds only', () => {
    assert.equal(numberOption('t', 'lingerMs', 2.5, 2, 0, 1000), 2.5);
    throwsConfiguration(
      () => numberOption('kafkaTransport', 'lingerMs', Number.NaN, 2, 0, 1000),
      'kafkaTransport: lingerMs must be a number from 0 to 1000, got NaN',
    );
  });

  it('option checks - matchingOption and oneOfOption say what is allowed', () => {
    assert.equal(matchingOption('t', 'prefix', 'ok_1', /^[a-z0-9_]+$/, 'lower case'), 'ok_1');
    throwsConfiguration(
      () => matchingOption('t', 'prefix', 'a.b', /^[a-z]+$/, '1-32 characters from a-z'),
      't: prefix must be 1-32 characters from a-z, got "a.b"',
    );
    assert.equal(oneOfOption('t', 'queueType', 'classic', ['quorum', 'classic']), 'classic');
    throwsConfiguration(
      () => oneOfOption('t', 'queueType', 'stream', ['quorum', 'classic']),
      't: queueType must be "quorum" or "classic", got "stream"',
    );
    throwsConfiguration(
      () => oneOfOption('t', 'mode', 'x', ['a', 'b', 'c']),
      't: mode must be "a", "b" or "c", got "x"',
    );
  });

  it('option checks - urlOption checks the scheme and never repeats the URL', () => {
    assert.equal(
      urlOption('t', 'url', 'redis://127.0.0.1:6379', ['redis', 'rediss'], 'e'),
      'redis://127.0.0.1:6379',
    );
    assert.equal(urlOption('t', 'endpoint', 'http://x:1', [], 'e'), 'http://x:1');
    throwsConfiguration(
      () => urlOption('t', 'url', 'http://user:secret@host', ['redis', 'rediss'], 'redis://127.0.0.1:6379'),
      't: url must start with redis:// or rediss:// and be a valid URL, e.g. redis://127.0.0.1:6379',
    );
    throwsConfiguration(
      () => urlOption('t', 'endpoint', 'not a url', [], 'http://127.0.0.1:4566'),
      't: endpoint must be a URL, e.g. http://127.0.0.1:4566',
    );
  });

  it('option checks - integerFromEnv reads integers and names a bad variable', () => {
    assert.equal(integerFromEnv({ N: '42' }, 'N'), 42);
    assert.equal(integerFromEnv({ N: '' }, 'N'), undefined);
    assert.equal(integerFromEnv({}, 'N'), undefined);
    throwsConfiguration(() => integerFromEnv({ N: '4.5' }, 'N'), 'N must be an integer, got 4.5');
  });
});
