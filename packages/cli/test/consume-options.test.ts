/** The one option parser of `consume` and `tail`, in-process: what each resolves, and what each refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandIo } from '../src/cli.ts';
import { parseReadCommand } from '../src/consume-options.ts';
import { UsageError } from '../src/errors.ts';

/** An io that writes nothing; `stdoutIsTty` picks tail's default layout. */
function io(stdoutIsTty = false): CommandIo {
  return { stdout: () => {}, stderr: () => {}, stdoutIsTty, env: {} };
}

describe('consume options', () => {
  it('consume options - consume: -o, -g, -c, -p, -e, -q and the kcat layout by default', () => {
    const { settings } = parseReadCommand(
      'consume',
      ['-t', 'orders', '-g', 'audit', '-o', '-5', '-o', 'e@1000', '-c', '3', '-p', '0,2', '-e', '-q'],
      io(true),
    );
    assert.deepEqual(
      { ...settings, layout: settings.layout.kind },
      {
        topic: 'orders',
        group: 'audit',
        start: { kind: 'fromEnd', count: 5n },
        endTimestampMs: 1000,
        partitions: [0, 2],
        follow: false,
        countMax: 3,
        fetchWaitMs: settings.fetchWaitMs,
        layout: 'raw',
        quiet: true,
      },
    );
    const plain = parseReadCommand('consume', ['-t', 'orders'], io()).settings;
    assert.deepEqual(plain.start, { kind: 'beginning' });
    assert.equal(plain.follow, true);
    assert.equal(plain.countMax, undefined);
  });

  it('consume options - tail: the last 10 by default or -n, pretty on a terminal, raw on a pipe', () => {
    const terminal = parseReadCommand('tail', ['-t', 'orders'], io(true)).settings;
    assert.deepEqual(terminal.start, { kind: 'fromEnd', count: 10n });
    assert.equal(terminal.layout.kind, 'pretty');
    assert.equal(terminal.group, undefined);
    assert.equal(terminal.countMax, undefined);
    assert.equal(terminal.endTimestampMs, undefined);
    const pipe = parseReadCommand('tail', ['-t', 'orders', '-n', '0', '-e'], io(false)).settings;
    assert.deepEqual(pipe.start, { kind: 'fromEnd', count: 0n });
    assert.equal(pipe.layout.kind, 'raw');
    assert.equal(pipe.follow, false);
    // -K asks for kcat's layout even on a terminal.
    assert.equal(parseReadCommand('tail', ['-t', 'orders', '-K', ':'], io(true)).settings.layout.kind, 'raw');
  });

  it("consume options - each command refuses the other's options, a missing -t and malformed values", () => {
    assert.throws(() => parseReadCommand('tail', ['-t', 'orders', '-g', 'audit'], io()), UsageError);
    assert.throws(() => parseReadCommand('tail', ['-t', 'orders', '-o', 'end'], io()), UsageError);
    assert.throws(() => parseReadCommand('consume', ['-t', 'orders', '-n', '5'], io()), UsageError);
    for (const command of ['consume', 'tail'] as const) {
      assert.throws(() => parseReadCommand(command, [], io()), /-t TOPIC is required/);
      assert.throws(() => parseReadCommand(command, ['-t', 'orders', '-p', 'x'], io()), UsageError);
    }
    assert.throws(
      () => parseReadCommand('consume', ['-t', 'orders', '-c', '0'], io()),
      /-c must be a whole number/,
    );
    assert.throws(
      () => parseReadCommand('tail', ['-t', 'orders', '-n', '-1'], io()),
      /-n must be a whole number/,
    );
  });
});
