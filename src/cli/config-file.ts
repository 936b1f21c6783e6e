import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ExitCode, UserError } from './exit-codes.js';

/**
 * Every option of the four commands, by its long name: the keys a config file may hold. One file serves
 * every command; each takes the keys that are its options and leaves the others.
 */
export const CONFIG_KEYS: ReadonlySet<string> = new Set([
  // run-server
  'host', 'store', 'data-dir', 'fsync', 'accept-empty-log', 'recover-to', 'retain-messages', 'retain-bytes', 'retain-seconds', 'retain',
  'max-message-bytes', 'datagram-bytes', 'session-timeout', 'users', 'max-sessions', 'max-topics', 'handshake-rate', 'message-rate',
  'http', 'stats-interval', 'forget-after', 'tcp-max-connections', 'tcp-max-per-host', 'tcp-idle-timeout', 'key-file', 'hash-secret',
  // the clients
  'username', 'topic', 'address', 'secret', 'timeout', 'to', 'file', 'follow', 'from-start', 'delay', 'from', 'format', 'count', 'once', 'group', 'who', 'topics', 'presence', 'server-key',
  // all
  'port', 'log-level', 'transport', 'insecure-plaintext',
]); // prettier-ignore

/** The user's config directory for udp-relay: `$XDG_CONFIG_HOME/udp-relay`, or `~/.config/udp-relay`. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME !== undefined && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'udp-relay');
}

/** `config.json` in the user's config directory. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(userConfigDir(env), 'config.json');
}

const bad = (path: string, why: string): UserError => new UserError(`config file ${path}: ${why}`, ExitCode.Usage);

/**
 * The options a config file gives: a JSON object of long option names and their values. A file at the
 * default location that is not there gives none; one named by --config must be there.
 */
export function readConfigFile(path: string, warn: (line: string) => void): Record<string, string | number | boolean | string[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && resolve(path) === resolve(defaultConfigPath())) return {};
    throw bad(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(path, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(path, 'expected one JSON object of option names and values');
  const options: Record<string, string | number | boolean | string[]> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (!CONFIG_KEYS.has(key)) {
      unknown.push(key);
      continue;
    }
    const strings = Array.isArray(value) && value.every((v) => typeof v === 'string');
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && !strings) {
      throw bad(path, `'${key}' must be a string, a number, true/false, or a list of strings`);
    }
    options[key] = value;
  }
  if (unknown.length > 0) warn(`config file ${path}: ${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length === 1 ? 'is not an option' : 'are not options'} of any command; ignored`);
  // A secret in a file others can read is no secret.
  if (options.secret !== undefined && (statSync(path).mode & 0o077) !== 0) warn(`config file ${path} holds a secret and others can read it (chmod 600 ${path})`);
  return options;
}
