import { readFileSync, statSync } from 'node:fs';
import type { TopicRights } from '../core/server/topic-rights.js';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { isValidPattern, PATTERN_RULE } from '../protocol/topics.js';
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
 * one) or, from older versions, to the secret itself; or to an object `{"secret": verifier, "read":
 * [patterns], "write": [patterns]}` that limits the topics the user may read and write (either list
 * absent: every topic). Any fault is a one-line usage error.
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
  const rights = new Map<string, TopicRights>();
  const plain: string[] = [];
  for (const [name, entry] of Object.entries(parsed)) {
    if (!isValidName(name)) throw usage(`--users '${path}': bad user name '${name}': ${NAME_RULE}`);
    const limited = typeof entry === 'object' && entry !== null && !Array.isArray(entry);
    const value: unknown = limited ? (entry as Record<string, unknown>)['secret'] : entry;
    if (typeof value !== 'string' || value.length === 0) {
      throw usage(`--users '${path}': the entry of ${name} must be a non-empty string, or an object with one as "secret"`);
    }
    if (limited) rights.set(name, topicRights(path, name, entry as Record<string, unknown>));
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
  const users = new VerifiedUsers(entries);
  for (const [name, r] of rights) users.topicRights.set(name, r);
  return { users, exposed: (statSync(path).mode & 0o077) !== 0, plain };
}

/** A user's `read` and `write`: lists of topic patterns (`logs.>`, `chat.*`, `main`). */
function topicRights(path: string, name: string, entry: Record<string, unknown>): TopicRights {
  const out: TopicRights = {};
  for (const key of Object.keys(entry)) {
    if (key !== 'secret' && key !== 'read' && key !== 'write') throw usage(`--users '${path}': the entry of ${name} has "${key}": expected "secret", "read" and "write"`);
  }
  for (const access of ['read', 'write'] as const) {
    const list = entry[access];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((p): p is string => typeof p === 'string')) {
      throw usage(`--users '${path}': "${access}" of ${name} must be a list of topic patterns`);
    }
    const bad = list.find((p) => !isValidPattern(p));
    if (bad !== undefined) throw usage(`--users '${path}': "${access}" of ${name} has '${bad}': expected ${PATTERN_RULE}`);
    out[access] = list;
  }
  return out;
}
