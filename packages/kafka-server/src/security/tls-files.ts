/**
 * The TLS certificate of a listener: read from PEM files at start (a missing or invalid file is a
 * configuration error then) and re-read when they change, so a renewed certificate is served
 * without a restart. Changes are noticed by polling the files' status (`fs.watchFile`, one `stat`
 * per file per interval), which also works where inotify does not (network mounts, bind mounts);
 * a reload waits one more interval after the last change, so a certificate and key replaced one
 * after the other load as a pair; files that still fail to load are reported and the previous
 * certificate stays.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { KafkaServerConfigError } from '../config-error.ts';

/** PEM files of a TLS listener. */
export interface TlsFiles {
  /** Certificate chain (server certificate first). */
  readonly certFile: string;
  /** Private key of the certificate. */
  readonly keyFile: string;
  /** CA bundle; when given, clients must present a certificate it signed (mutual TLS). */
  readonly caFile?: string;
}

function read(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new KafkaServerConfigError(
      `cannot read the TLS ${what} ${file}: ${(error as Error).message}; check the path and its permissions`,
    );
  }
}

/** Reads the files into secure-context options; throws `KafkaServerConfigError` when they are unusable. */
export function loadTlsContext(files: TlsFiles): tls.SecureContextOptions {
  const options: tls.SecureContextOptions = {
    cert: read(files.certFile, 'certificate'),
    key: read(files.keyFile, 'key'),
    ...(files.caFile === undefined ? {} : { ca: read(files.caFile, 'CA bundle') }),
    minVersion: 'TLSv1.2',
  };
  try {
    tls.createSecureContext(options);
  } catch (error) {
    throw new KafkaServerConfigError(
      `invalid TLS certificate or key (${files.certFile}, ${files.keyFile}): ${(error as Error).message}; ` +
        'give a PEM certificate chain and its matching PEM private key',
    );
  }
  return options;
}

/**
 * Re-reads the files whenever one changes (checked every `intervalMs`) and installs them on
 * `server`. Returns the function that stops watching.
 */
export function watchTlsFiles(
  files: TlsFiles,
  server: tls.Server,
  intervalMs: number,
  onError: (error: unknown) => void,
): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])];
  let pending: NodeJS.Timeout | undefined;
  const load = () => {
    try {
      server.setSecureContext(loadTlsContext(files));
    } catch (error) {
      onError(error);
    }
  };
  const changed = (current: fs.Stats, previous: fs.Stats) => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) return;
    clearTimeout(pending);
    pending = setTimeout(load, intervalMs);
    pending.unref();
  };
  for (const file of paths) fs.watchFile(file, { interval: intervalMs, persistent: false }, changed);
  return () => {
    clearTimeout(pending);
    for (const file of paths) fs.unwatchFile(file, changed);
  };
}
