/**
 * SCRAM (RFC 5802, with the SHA-256 and SHA-512 hashes of RFC 7677 and Kafka): deriving the
 * stored credential from a password, and the server side of one exchange. The server keeps only
 * the salt, the iteration count, StoredKey and ServerKey, so a leaked credential file does not
 * reveal passwords and cannot be replayed as a client proof. Channel binding is not offered
 * (Kafka does not either); SASLprep is not applied, so passwords are compared as UTF-8 bytes.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** The SCRAM mechanisms served, by their SASL names. */
export const SCRAM_MECHANISMS = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
} as const;

/** A SASL name of a SCRAM mechanism. */
export type ScramMechanism = keyof typeof SCRAM_MECHANISMS;

/** Kafka's lowest accepted iteration count (and its default); also the default here. */
export const SCRAM_ITERATIONS_MIN = 4096;
/** Highest iteration count accepted, so a crafted credential file cannot stall the server. */
export const SCRAM_ITERATIONS_MAX = 1_000_000;

/** What the server stores for one user and mechanism (byte fields base64). */
export interface ScramCredential {
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

function hmac(hash: string, key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac(hash, key).update(data).digest();
}

/** SaltedPassword := Hi(password, salt, i), PBKDF2 with HMAC of the mechanism's hash. */
export async function saltedPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Buffer> {
  const { hash, bytes } = SCRAM_MECHANISMS[mechanism];
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, bytes, hash);
}

/** Derives the stored credential of `password` with a fresh random salt. */
export async function deriveCredential(
  mechanism: ScramMechanism,
  password: string,
  iterations: number = SCRAM_ITERATIONS_MIN,
): Promise<ScramCredential> {
  const salt = randomBytes(32);
  const keys = keysOf(mechanism, await saltedPassword(mechanism, password, salt, iterations));
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: keys.storedKey.toString('base64'),
    serverKey: keys.serverKey.toString('base64'),
  };
}

function keysOf(mechanism: ScramMechanism, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const { hash } = SCRAM_MECHANISMS[mechanism];
  const clientKey = hmac(hash, salted, 'Client Key');
  return {
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, salted, 'Server Key'),
  };
}

/** True when `password` matches `credential` (SASL/PLAIN checks passwords this way; constant time). */
export async function passwordMatches(
  mechanism: ScramMechanism,
  credential: ScramCredential,
  password: string,
): Promise<boolean> {
  const salted = await saltedPassword(
    mechanism,
    password,
    Buffer.from(credential.salt, 'base64'),
    credential.iterations,
  );
  const expected = Buffer.from(credential.storedKey, 'base64');
  const actual = keysOf(mechanism, salted).storedKey;
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A failed exchange: the message is safe to send to the client. */
export class ScramError extends Error {}

/** Attribute map of one SCRAM message ("n=user,r=nonce"); values may contain '='. */
function attributes(text: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const part of text.split(',')) {
    const match = /^([A-Za-z])=(.*)$/s.exec(part);
    if (match === null) throw new ScramError(`malformed SCRAM attribute "${part.slice(0, 20)}"`);
    result.set(match[1]!, match[2]!);
  }
  return result;
}

function unescapeName(name: string): string {
  if (/=(?!2C|3D)/.test(name)) throw new ScramError('malformed SCRAM user name');
  return name.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

/** Largest SCRAM message accepted; real ones are under 300 bytes. */
const SCRAM_MESSAGE_BYTES_MAX = 4096;

/**
 * The server side of one SCRAM exchange: `first()` takes client-first-message and returns
 * server-first-message, `final()` takes client-final-message and returns server-final-message or
 * throws {@link ScramError}. An unknown user gets a made-up salt and fails only at `final()`, so
 * the exchange does not tell which user names exist.
 */
export class ScramExchange {
  readonly #mechanism: ScramMechanism;
  readonly #lookup: (user: string) => ScramCredential | undefined;
  #user = '';
  #credential: ScramCredential | undefined;
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';
  #gs2Header = '';

  constructor(mechanism: ScramMechanism, lookup: (user: string) => ScramCredential | undefined) {
    this.#mechanism = mechanism;
    this.#lookup = lookup;
  }

  /** The authenticated user (valid once `final()` returned). */
  get user(): string {
    return this.#user;
  }

  /** Handles client-first-message. */
  first(message: Uint8Array): Uint8Array {
    if (message.byteLength > SCRAM_MESSAGE_BYTES_MAX) throw new ScramError('SCRAM message too long');
    const text = Buffer.from(message).toString('utf8');
    const match = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text);
    if (match === null) {
      throw new ScramError(
        'channel binding is not supported; use a client-first-message with gs2 header "n,,"',
      );
    }
    this.#gs2Header = `${match[1]},${match[2] ?? ''},`;
    this.#clientFirstBare = match[3]!;
    const fields = attributes(this.#clientFirstBare);
    const user = fields.get('n');
    const clientNonce = fields.get('r');
    if (user === undefined || clientNonce === undefined || clientNonce.length === 0) {
      throw new ScramError('client-first-message needs n= and r=');
    }
    // Extensions (Kafka's "tokenauth=true" for delegation tokens) already fail as malformed
    // attributes above; "m=" is the RFC's reserved mandatory extension.
    if (fields.has('m')) throw new ScramError('SCRAM extensions are not supported');
    this.#user = unescapeName(user);
    const authzid = match[2]?.slice(2);
    if (authzid !== undefined && authzid.length > 0 && unescapeName(authzid) !== this.#user) {
      throw new ScramError('authorization id must equal the user name');
    }
    this.#credential = this.#lookup(this.#user);
    const salt =
      this.#credential?.salt ??
      createHash('sha256').update(`herald-unknown-user:${this.#user}`).digest().toString('base64');
    const iterations = this.#credential?.iterations ?? SCRAM_ITERATIONS_MIN;
    this.#nonce = clientNonce + randomBytes(24).toString('base64url');
    this.#serverFirst = `r=${this.#nonce},s=${salt},i=${iterations}`;
    return Buffer.from(this.#serverFirst, 'utf8');
  }

  /** Handles client-final-message; throws {@link ScramError} when the proof is wrong. */
  final(message: Uint8Array): Uint8Array {
    if (message.byteLength > SCRAM_MESSAGE_BYTES_MAX) throw new ScramError('SCRAM message too long');
    const text = Buffer.from(message).toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('client-final-message needs p=');
    const withoutProof = text.slice(0, proofAt);
    const fields = attributes(withoutProof);
    if (fields.get('c') !== Buffer.from(this.#gs2Header, 'utf8').toString('base64')) {
      throw new ScramError('channel binding attribute does not match the gs2 header');
    }
    // Kafka checks only the end: librdkafka 2.0 sends the client nonce twice (client + server nonce).
    if (!(fields.get('r') ?? '').endsWith(this.#nonce)) throw new ScramError('nonce mismatch');
    const credential = this.#credential;
    const failed = new ScramError('Authentication failed: invalid user name or password');
    if (credential === undefined) throw failed;
    const { hash } = SCRAM_MECHANISMS[this.#mechanism];
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(credential.storedKey, 'base64');
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    const clientSignature = hmac(hash, storedKey, authMessage);
    if (proof.length !== clientSignature.length) throw failed;
    const clientKey = Buffer.alloc(proof.length);
    for (let index = 0; index < proof.length; index++) {
      clientKey[index] = proof[index]! ^ clientSignature[index]!;
    }
    const candidate = createHash(hash).update(clientKey).digest();
    if (candidate.length !== storedKey.length || !timingSafeEqual(candidate, storedKey)) throw failed;
    const serverSignature = hmac(hash, Buffer.from(credential.serverKey, 'base64'), authMessage);
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }
}
