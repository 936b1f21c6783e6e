import { createHash } from 'node:crypto';
import { SimpleError } from '@redis/client';
import type { RedisArg, RedisLink } from './redis-link.js';
import { APPEND, CLAIM, FORGET, INIT, MARKS, READ, RELEASE, RENEW, TRIM } from './redis-scripts.js';

/** A Lua script run by its SHA1, sent whole again when Redis has forgotten it (after a restart). */
class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Puts the script in Redis's cache (every node's, on a cluster), so that EVALSHA finds it. */
  load(link: RedisLink): Promise<void> {
    return link.loadScript(this.source);
  }

  /** Runs on the node of its keys (they share one hash tag). */
  async run(link: RedisLink, keys: string[], args: RedisArg[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await link.send(keys[0]!, ['EVALSHA', this.sha, ...tail], true);
    } catch (e) {
      if (!(e instanceof SimpleError) || !e.message.startsWith('NOSCRIPT')) throw e;
      return link.send(keys[0]!, ['EVAL', this.source, ...tail], true);
    }
  }
}

export const scripts = {
  append: new Script(APPEND),
  read: new Script(READ),
  trim: new Script(TRIM),
  init: new Script(INIT),
  claim: new Script(CLAIM),
  renew: new Script(RENEW),
  release: new Script(RELEASE),
  forget: new Script(FORGET),
  marks: new Script(MARKS),
};

/**
 * Loads every script before the store is used. Without it, a script's first EVALSHA fails (NOSCRIPT) and
 * is sent again as EVAL: calls made after it, already on the wire, run first, and the store's calls would
 * not apply in the order they were made (a name released and claimed again in one turn would be claimed
 * before it is released). After Redis restarts empty of scripts the fallback still runs, once per script.
 */
export async function loadScripts(link: RedisLink): Promise<void> {
  await Promise.all(Object.values(scripts).map((s) => s.load(link)));
}

/** A flat reply of field, value, field, value… as pairs. */
export function pairsOf(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** A flat reply of field, value… (values binary) as a record. */
export function fieldsOf(flat: Buffer[]): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!.toString()] = flat[i + 1]!;
  return out;
}
