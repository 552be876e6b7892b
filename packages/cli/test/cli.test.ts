import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../src/index.ts';

async function herald(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
  });
  return { code, out, err };
}

test('cli - help, unknown commands and bad options', { timeout: 180_000 }, async () => {
  assert.match((await herald(['--help'])).out, /serve\s+run the embedded broker/);
  const help = await herald(['serve', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--advertised-host/);
  const unknown = await herald(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command "frobnicate"/);
  const badPort = await herald(['serve', '--port', '99999']);
  assert.equal(badPort.code, 2);
  assert.match(badPort.err, /--port must be an integer from 0 to 65535/);
  const unknownOption = await herald(['serve', '--bogus']);
  assert.equal(unknownOption.code, 2);
});

test('cli - serve refuses a non-loopback interface without TLS and SASL or --insecure', {
  timeout: 180_000,
}, async () => {
  const result = await herald([
    'serve',
    '--host',
    '0.0.0.0',
    '--port',
    '0',
    '--data',
    '/nonexistent/never-created',
  ]);
  // A usage error (exit 2) that names what to configure.
  assert.equal(result.code, 2);
  assert.match(result.err, /refusing to listen on 0\.0\.0\.0 without TLS \(--tls-cert.*--insecure/);
});
