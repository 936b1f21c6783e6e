import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ServerConfig } from '../core/server/server-core.js';
import { noiseCrypto } from '../io/noise-crypto.js';
import { SECRET_BYTES_MAX } from '../protocol/constants.js';
import { makeDataDir } from '../store/sqlite-schema.js';
import { StoreOpenError } from '../store/store-errors.js';
import { checkName } from './client-options.js';
import { usage } from './command.js';
import { ExitCode, UserError } from './exit-codes.js';
import { fingerprint, loadServerKey, SERVER_KEY_FILE } from './server-identity.js';
import { hashSecret } from './secret-verifiers.js';
import { loadUsers } from './users-file.js';

export interface ServerSecurity {
  config: Pick<ServerConfig, 'encryption' | 'users'>;
  /** The server key's fingerprint, said at start-up (none in plain text). */
  fingerprint: string | undefined;
  users: number | undefined;
}

interface SecurityArgs {
  users?: string | undefined;
  'key-file'?: string | undefined;
  'data-dir': string;
  'insecure-plaintext': boolean;
}

/** The users file checked, before anything starts (a usage error is said first). */
export function checkSecurityArgs(args: SecurityArgs): ReturnType<typeof loadUsers> | undefined {
  if (args['insecure-plaintext'] && args.users !== undefined) {
    throw usage('--users needs encryption: secrets are never taken in plain text (drop --insecure-plaintext)');
  }
  if (args['insecure-plaintext'] && args['key-file'] !== undefined) throw usage('--key-file is the key of an encrypted server: it goes without --insecure-plaintext');
  return args.users !== undefined ? loadUsers(args.users) : undefined;
}

/**
 * The server's key (from --key-file, or made on first start in the data directory) and its users;
 * what the user should hear of either is logged.
 */
export function serverSecurity(args: SecurityArgs, users: ReturnType<typeof loadUsers> | undefined, logger: Logger): ServerSecurity {
  if (users?.exposed) logger.warn({ file: args.users }, `the users file ${args.users} can be read or changed by other users: chmod 600 it`);
  if (users && users.plain.length > 0) {
    logger.warn(
      { file: args.users, plain: users.plain },
      `the users file ${args.users} holds ${users.plain.length} secret(s) as they are (${users.plain.join(', ')}): replace each with what 'run-server --hash-secret NAME' prints`,
    );
  }
  const usersConfig = users ? { users: users.users } : {};
  if (args['insecure-plaintext']) {
    logger.warn('--insecure-plaintext: nothing is encrypted; anyone on the path reads and can change every message (for measuring and debugging only)');
    return { config: usersConfig, fingerprint: undefined, users: users?.users.size };
  }
  let path = args['key-file'];
  if (path === undefined) {
    try {
      makeDataDir(args['data-dir']);
    } catch (e) {
      if (e instanceof StoreOpenError) throw new UserError(e.message, ExitCode.StartFailed);
      throw e;
    }
    path = join(args['data-dir'], SERVER_KEY_FILE);
  }
  const { keys, created } = loadServerKey(path, true);
  const shown = fingerprint(keys.publicKey);
  if (created) logger.info({ keyFile: path, serverKey: shown }, `made a new server key in ${path}`);
  return { config: { ...usersConfig, encryption: { crypto: noiseCrypto, staticKey: keys } }, fingerprint: shown, users: users?.users.size };
}

/** `run-server --hash-secret NAME`: the users file entry for NAME, its secret read from RELAY_SECRET or stdin. */
export async function printVerifier(name: string, input: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<number> {
  checkName(name, '--hash-secret name');
  let secret = process.env.RELAY_SECRET;
  if (secret === undefined) {
    let text = '';
    for await (const chunk of input) text += String(chunk);
    secret = text.split('\n')[0]!.replace(/\r$/, '');
  }
  if (secret === '') throw new UserError('--hash-secret: no secret given (on stdin, or in RELAY_SECRET)', ExitCode.Usage);
  if (Buffer.byteLength(secret) > SECRET_BYTES_MAX) throw new UserError(`--hash-secret: a secret is at most ${SECRET_BYTES_MAX} bytes`, ExitCode.Usage);
  out.write(`${JSON.stringify({ [name]: hashSecret(secret) })}\n`);
  return ExitCode.Ok;
}
