import { readFileSync, statSync } from 'node:fs';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { SECRET_BYTES_MAX } from '../protocol/constants.js';
import { usage } from './command.js';
import { parseVerifier, VerifiedUsers, type Verifier } from './secret-verifiers.js';

export interface UsersFile {
  users: VerifiedUsers;
  /** Set when the file can be read or changed by users other than its owner. */
  exposed: boolean;
  /** Users whose secret the file holds as it is, not as a verifier (files of older versions). */
  plain: string[];
}

/**
 * Reads `--users FILE`: a JSON object of user name to verifier (`run-server --hash-secret NAME` makes
 * one) or, from older versions, to the secret itself. Any fault is a one-line usage error.
 */
export function loadUsers(path: string): UsersFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw usage(`cannot read --users '${path}': ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usage(`--users '${path}' is not JSON: expected {"name": "$scrypt$...", ...}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usage(`--users '${path}' must hold a JSON object of name to verifier`);
  }
  const entries = new Map<string, Verifier | Buffer>();
  const plain: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (!isValidName(name)) throw usage(`--users '${path}': bad user name '${name}': ${NAME_RULE}`);
    if (typeof value !== 'string' || value.length === 0) {
      throw usage(`--users '${path}': the entry of ${name} must be a non-empty string`);
    }
    const verifier = parseVerifier(value);
    if (verifier === 'bad') throw usage(`--users '${path}': the entry of ${name} is not a verifier run-server --hash-secret makes`);
    if (verifier) {
      entries.set(name, verifier);
      continue;
    }
    const secret = Buffer.from(value, 'utf8');
    if (secret.length > SECRET_BYTES_MAX) throw usage(`--users '${path}': the secret of ${name} is over ${SECRET_BYTES_MAX} bytes`);
    entries.set(name, secret);
    plain.push(name);
  }
  if (entries.size === 0) throw usage(`--users '${path}' names no users`);
  return { users: new VerifiedUsers(entries), exposed: (statSync(path).mode & 0o077) !== 0, plain };
}
