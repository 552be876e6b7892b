/**
 * Test certificates made with openssl in a temporary directory: a CA, a server certificate for
 * localhost and 127.0.0.1 signed by it, an expired one, and a second valid one (to check reloads).
 * EC P-256 keys, so generation takes milliseconds even on a loaded machine.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, runTool } from './child.ts';

/** Paths of the generated PEM files. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly expiredCertFile: string;
  readonly expiredKeyFile: string;
  readonly otherCertFile: string;
  readonly otherKeyFile: string;
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  const result = await runTool('openssl', args, { cwd: dir, timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${result.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function signed(dir: string, name: string, days: number): Promise<void> {
  await openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    String(days),
    '-extfile',
    'san.cnf',
  ]);
}

/** Generates the certificates in `dir` (which must exist). */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  requireTool('openssl', ['version'], 'openssl');
  writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=herald-test-ca',
  ]);
  await signed(dir, 'server', 2);
  // -days -1: notAfter a day before notBefore, so the certificate is already expired.
  await signed(dir, 'expired', -1);
  await signed(dir, 'other', 2);
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    expiredCertFile: file('expired.pem'),
    expiredKeyFile: file('expired.key'),
    otherCertFile: file('other.pem'),
    otherKeyFile: file('other.key'),
  };
}
