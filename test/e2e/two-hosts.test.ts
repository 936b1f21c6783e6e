import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { lines, sleep } from './processes.js';
import { ensureCommand } from './system-tools.js';

/**
 * Two hosts joined by a real link: two network namespaces and a veth pair between them, made by the test
 * (as root; skipped with the reason elsewhere). The server serves the network (--host 0.0.0.0) in one,
 * the clients run in the other, so datagrams take a path with a real MTU.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tag = `${process.pid % 100_000}`;
const SERVER_NS = `relay-a${tag}`;
const CLIENT_NS = `relay-b${tag}`;
const SERVER_IP = '10.231.0.1';
const CLIENT_IP = '10.231.0.2';

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const inNs = (ns: string, ...args: string[]): string => ip('netns', 'exec', ns, ...args);

function canMakeNamespaces(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to make network namespaces';
  try {
    ensureCommand('ip', 'iproute2');
    ip('netns', 'add', `relay-probe${tag}`);
    ip('netns', 'del', `relay-probe${tag}`);
    return false;
  } catch (e) {
    return `cannot make network namespaces here: ${(e as Error).message.split('\n')[0]}`;
  }
}
const skip = canMakeNamespaces();

function makeLink(mtu: number): void {
  for (const ns of [SERVER_NS, CLIENT_NS]) ip('netns', 'add', ns);
  ip('link', 'add', `va${tag}`, 'netns', SERVER_NS, 'type', 'veth', 'peer', 'name', `vb${tag}`, 'netns', CLIENT_NS);
  for (const [ns, dev, addr] of [
    [SERVER_NS, `va${tag}`, SERVER_IP],
    [CLIENT_NS, `vb${tag}`, CLIENT_IP],
  ] as const) {
    inNs(ns, 'ip', 'addr', 'add', `${addr}/24`, 'dev', dev);
    inNs(ns, 'ip', 'link', 'set', dev, 'mtu', String(mtu), 'up');
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
}

function removeLink(): void {
  for (const ns of [SERVER_NS, CLIENT_NS]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not made
    }
  }
}

/** IP datagrams that arrived in fragments, in a namespace (none when every datagram fits the path). */
const reassemblies = (ns: string): number => {
  const snmp = inNs(ns, 'cat', '/proc/net/snmp').split('\n');
  const names = snmp[0]!.split(/\s+/);
  const values = snmp[1]!.split(/\s+/);
  return Number(values[names.indexOf('ReasmReqds')]);
};

interface Proc {
  out: () => string;
  err: () => string;
  done: Promise<number | null>;
  stdin: NodeJS.WritableStream;
  kill: () => void;
}

function runIn(ns: string, command: string, args: string[]): Proc {
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, `${ROOT}bin/${command}.js`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  p.stdin.on('error', () => {});
  return { out: () => out, err: () => err, done: once(p, 'close').then(([code]) => code as number | null), stdin: p.stdin, kill: () => p.kill('SIGTERM') };
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('two hosts on a real link (network namespaces and a veth pair)', { skip }, () => {
  before(removeLink);
  after(removeLink);

  /**
   * A link of `mtu` with the server serving the network on one side, and on the other a reader waiting
   * for 10,000 lines and a writer; `body` feeds the writer. Everything is taken down after.
   */
  async function acrossTheLink(mtu: number, body: (writer: Proc, reader: Proc) => Promise<void>): Promise<void> {
    makeLink(mtu);
    const server = runIn(SERVER_NS, 'run-server', ['--host', '0.0.0.0', '--store', 'memory']);
    try {
      await until('the server to listen', () => /listening/.test(server.err()), 10_000);
      const addr = ['--address', SERVER_IP];
      const reader = runIn(CLIENT_NS, 'run-reader', ['-u', 'far', ...addr, '--format', 'raw', '--count', '10000', '--log-level', 'info']);
      await until('the reader to register', () => /registered as far/.test(reader.err()), 10_000);
      const writer = runIn(CLIENT_NS, 'run-writer', ['-u', 'near', ...addr]);
      await body(writer, reader);
      assert.equal(await writer.done, 0, writer.err());
      assert.equal(await reader.done, 0, reader.err());
      assert.equal(reader.out(), lines(1, 10_000));
    } finally {
      server.kill();
      await server.done;
      removeLink();
    }
  }

  for (const mtu of [1280, 1200]) {
    test(`MTU ${mtu}: 10,000 lines from one host to the server on the other, exactly once, in order${mtu === 1280 ? ', no datagram fragmented' : ''}`, async () => {
      let fragments = [0, 0];
      await acrossTheLink(mtu, async (writer, reader) => {
        writer.stdin.end(lines(1, 10_000));
        await Promise.all([writer.done, reader.done]);
        fragments = [reassemblies(SERVER_NS), reassemblies(CLIENT_NS)];
      });
      if (mtu === 1280) {
        assert.equal(fragments[0], 0, 'the server received no fragmented datagram');
        assert.equal(fragments[1], 0, 'the clients received no fragmented datagram');
      }
    });
  }

  test('the link goes down for 3 s mid-stream and comes back: every line arrives once, in order', async () => {
    let said = '';
    await acrossTheLink(1280, async (writer, reader) => {
      writer.stdin.write(lines(1, 5_000));
      await until('half the lines to arrive', () => reader.out().split('\n').length > 2_000, 15_000);
      inNs(CLIENT_NS, 'ip', 'link', 'set', `vb${tag}`, 'down');
      writer.stdin.write(lines(5_001, 7_000));
      await sleep(3_000);
      inNs(CLIENT_NS, 'ip', 'link', 'set', `vb${tag}`, 'up');
      writer.stdin.end(lines(7_001, 10_000));
      await Promise.all([writer.done, reader.done]);
      said = writer.err() + reader.err();
    });
    assert.match(said, /not responding/, 'the outage was noticed');
  });
});
