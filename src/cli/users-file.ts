import { readFileSync, statSync } from 'node:fs';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { usage } from './command.js';

export interface UsersFile {
  users: Map<string, Buffer>;
  /** Set when the file can be read or changed by users other than its owner. */
  exposed: boolean;
}

/** Reads `--users FILE`: a JSON object of user name to secret. Any fault is a one-line usage error. */
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
    throw usage(`--users '${path}' is not JSON: expected {"name": "secret", ...}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usage(`--users '${path}' must hold a JSON object of name to secret`);
  }
  const users = new Map<string, Buffer>();
  for (const [name, secret] of Object.entries(parsed)) {
    if (!isValidName(name)) throw usage(`--users '${path}': bad user name '${name}': ${NAME_RULE}`);
    if (typeof secret !== 'string' || secret.length === 0) {
      throw usage(`--users '${path}': the secret of ${name} must be a non-empty string`);
    }
    users.set(name, Buffer.from(secret, 'utf8'));
  }
  if (users.size === 0) throw usage(`--users '${path}' names no users`);
  return { users, exposed: (statSync(path).mode & 0o077) !== 0 };
}
