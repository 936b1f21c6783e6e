import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { keyPairOfObject, noiseCrypto, privateKeyPem } from '../io/noise-crypto.js';
import type { KeyPair } from '../protocol/noise.js';
import { ExitCode, UserError } from './exit-codes.js';

/** The file a server keeps its key in, under its data directory, when no --key-file is given. */
export const SERVER_KEY_FILE = 'server-key.pem';

/** How a server key is shown and pinned: SHA-256 of the public key, base64 without padding (as SSH shows keys). */
export function fingerprint(publicKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKey).digest('base64').replace(/=+$/, '')}`;
}

const PIN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Checks a --server-key (or RELAY_SERVER_KEY) value: a fingerprint as the server prints it. */
export function parseServerKeyPin(value: string): string {
  if (!PIN.test(value)) throw new UserError(`--server-key '${value}' is not a key fingerprint: expected SHA256: and 43 characters, as the server prints at start-up`, ExitCode.Usage);
  return value;
}

const failed = (path: string, why: string): UserError => new UserError(`server key ${path}: ${why}`, ExitCode.StartFailed);

/**
 * The server's static key: read from `path` (a PKCS#8 PEM X25519 private key, as `openssl genpkey
 * -algorithm X25519` writes one), or made there on first start when `create` is set. A key readable by
 * others than its owner is refused, as SSH refuses one: it may have been read.
 */
export function loadServerKey(path: string, create: boolean): { keys: KeyPair; created: boolean } {
  let pem: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw failed(path, 'not a file');
    if ((st.mode & 0o077) !== 0) throw failed(path, `readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it, or make a new one`);
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || !create) throw failed(path, code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message));
    return { keys: writeNewKey(path), created: true };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw failed(path, 'not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'x25519') throw failed(path, `an ${key.asymmetricKeyType ?? 'unknown'} key, not an X25519 one`);
  return { keys: keyPairOfObject(key), created: false };
}

/** A fresh key, written where nobody else can read it, and whole or not at all. */
function writeNewKey(path: string): KeyPair {
  const keys = noiseCrypto.generateKeyPair();
  const pem = privateKeyPem(keys.privateKey);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, pem);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw failed(path, `cannot be written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return keys;
}
