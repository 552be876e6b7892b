/**
 * The SASL state of one connection (Kafka's SaslServerAuthenticator): SaslHandshake picks the
 * mechanism, then the client's tokens arrive in SaslAuthenticate requests (handshake v1) or as
 * bare size-prefixed frames (handshake v0, which `Connection` passes here as raw tokens). Until
 * the exchange succeeds only ApiVersions, SaslHandshake and SaslAuthenticate are served; a failed
 * exchange is answered with SASL_AUTHENTICATION_FAILED and the connection is closed, as Kafka does.
 * Re-authentication (KIP-368) is not supported: the session lifetime sent is 0 ("none"), so
 * clients never re-authenticate, and a second SaslHandshake is ILLEGAL_SASL_STATE.
 */
import { ERROR_CODE } from '@herald/kafka-protocol';
import { passwordMatches, ScramError, ScramExchange, type ScramMechanism } from './scram.ts';
import type { UserDirectory } from './user-store.ts';

/** A SASL mechanism name Herald serves. */
export type SaslMechanism = ScramMechanism | 'PLAIN';

/** Every mechanism Herald can serve. */
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'];

/** Server-wide SASL settings. */
export interface SaslSettings {
  /** Mechanisms offered, in SaslHandshake's order. */
  readonly mechanisms: readonly SaslMechanism[];
  readonly users: UserDirectory;
}

/** One step's result: the bytes to send back, or the failure to report before closing. */
export type SaslStep =
  | { readonly ok: true; readonly bytes: Uint8Array; readonly done: boolean }
  | { readonly ok: false; readonly errorCode: number; readonly message: string };

/** Largest PLAIN message (authzid, user, password). */
const PLAIN_MESSAGE_BYTES_MAX = 1024;

/** Per-connection SASL state machine. */
export class SaslSession {
  readonly #settings: SaslSettings;
  #mechanism: SaslMechanism | undefined;
  #scram: ScramExchange | undefined;
  #step = 0;
  #principal: string | undefined;
  #failed = false;

  constructor(settings: SaslSettings) {
    this.#settings = settings;
  }

  /** `User:<name>` once authenticated. */
  get principal(): string | undefined {
    return this.#principal;
  }

  /** True once authenticated. */
  get authenticated(): boolean {
    return this.#principal !== undefined;
  }

  /** The mechanisms this listener offers (SaslHandshake's answer). */
  get offered(): readonly string[] {
    return this.#settings.mechanisms;
  }

  /** The mechanism chosen by SaslHandshake. */
  get mechanism(): SaslMechanism | undefined {
    return this.#mechanism;
  }

  /** SaslHandshake: the error code (NONE, UNSUPPORTED_SASL_MECHANISM or ILLEGAL_SASL_STATE). */
  handshake(mechanism: string): number {
    if (this.#mechanism !== undefined || this.#failed) return ERROR_CODE.ILLEGAL_SASL_STATE;
    if (!(this.#settings.mechanisms as readonly string[]).includes(mechanism)) {
      this.#failed = true;
      return ERROR_CODE.UNSUPPORTED_SASL_MECHANISM;
    }
    this.#mechanism = mechanism as SaslMechanism;
    return ERROR_CODE.NONE;
  }

  /** One client token. */
  async authenticate(token: Uint8Array): Promise<SaslStep> {
    const mechanism = this.#mechanism;
    if (mechanism === undefined || this.#failed || this.authenticated) {
      this.#failed = true;
      return {
        ok: false,
        errorCode: ERROR_CODE.ILLEGAL_SASL_STATE,
        message: 'SaslHandshake must come first',
      };
    }
    try {
      await this.#settings.users.refresh();
      return mechanism === 'PLAIN' ? await this.#plain(token) : this.#scramStep(mechanism, token);
    } catch (error) {
      this.#failed = true;
      const message =
        error instanceof ScramError ? error.message : 'Authentication failed: invalid user name or password';
      return { ok: false, errorCode: ERROR_CODE.SASL_AUTHENTICATION_FAILED, message };
    }
  }

  #scramStep(mechanism: ScramMechanism, token: Uint8Array): SaslStep {
    const step = this.#step++;
    if (step === 0) {
      this.#scram = new ScramExchange(mechanism, (user) => this.#settings.users.lookup(user, mechanism));
      return { ok: true, bytes: this.#scram.first(token), done: false };
    }
    if (step === 1 && this.#scram !== undefined) {
      const bytes = this.#scram.final(token);
      this.#principal = `User:${this.#scram.user}`;
      return { ok: true, bytes, done: true };
    }
    throw new ScramError('unexpected SCRAM message');
  }

  async #plain(token: Uint8Array): Promise<SaslStep> {
    if (token.byteLength > PLAIN_MESSAGE_BYTES_MAX) throw new ScramError('PLAIN message too long');
    const parts = Buffer.from(token).toString('utf8').split('\0');
    if (parts.length !== 3) throw new ScramError('malformed PLAIN message');
    const [authzid, user, password] = parts as [string, string, string];
    if (authzid.length > 0 && authzid !== user) {
      throw new ScramError('authorization id must be empty or equal the user name');
    }
    const credential = this.#settings.users.lookup(user, 'SCRAM-SHA-512');
    if (credential === undefined || !(await passwordMatches('SCRAM-SHA-512', credential, password))) {
      throw new ScramError('Authentication failed: invalid user name or password');
    }
    this.#principal = `User:${user}`;
    return { ok: true, bytes: new Uint8Array(0), done: true };
  }
}
