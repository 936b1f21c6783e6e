import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LossyProxy, type ProxyFaults } from '../test/e2e/lossy-proxy.js';
import { peakRssMb } from './fanout.js';
import { noiseCrypto, privateKeyPem } from '../src/io/noise-crypto.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const bin = (name: string): string => join(ROOT, 'bin', `${name}.js`);

// Every bench server has the same key, and the bench's clients remember it in a config directory of
// their own: servers come and go on ports the system picks, and a port used again by a server with
// another key would be refused as a changed key (and the user's own known servers are not the bench's).
const BENCH_DIR = mkdtempSync(join(tmpdir(), 'relay-bench-keys-'));
const BENCH_KEY = join(BENCH_DIR, 'server-key.pem');
writeFileSync(BENCH_KEY, privateKeyPem(noiseCrypto.generateKeyPair().privateKey), { mode: 0o600 });
process.env['XDG_CONFIG_HOME'] = BENCH_DIR;
process.on('exit', () => rmSync(BENCH_DIR, { recursive: true, force: true }));

/** Node's own flags for the relay commands the bench starts (the profiler's, say: not allowed in NODE_OPTIONS). */
let nodeFlags: string[] = [];

/** Runs `f` with the relay commands it starts given `flags` (node's own, before the script). */
export async function withNodeFlags<T>(flags: string[], f: () => Promise<T>): Promise<T> {
  nodeFlags = flags;
  try {
    return await f();
  } finally {
    nodeFlags = [];
  }
}

export interface BenchServer {
  port: number;
  pid: number;
  /** Everything it said on stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** A relay server on a free loopback port with its own data directory (or `keptDir`), removed when it stops. */
export async function startBenchServer(args: string[], keptDir?: string): Promise<BenchServer> {
  const dataDir = keptDir ?? mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const key = args.includes('--insecure-plaintext') ? [] : ['--key-file', BENCH_KEY];
  const server = spawn(process.execPath, [...nodeFlags, bin('run-server'), '--port', '0', '--data-dir', dataDir, '--log-level', 'info', ...key, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    server.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /"port":(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', () => reject(new Error(`server exited: ${log}`)));
  });
  return {
    port,
    pid: server.pid!,
    log: () => log,
    stop: async () => {
      server.kill('SIGTERM');
      await once(server, 'exit').catch(() => undefined);
      if (keptDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ThroughputResult {
  lines: number;
  seconds: number;
  linesPerSecond: number;
  outputMatches: boolean;
  /** The server's peak RSS over the run. */
  serverRssMb: number;
}

/** `seq 1 N` through writer → server → reader, timed from the writer's start to the reader's last line. */
/** `follow`: the lines are written to a file first, and the writer ships it with `--follow --from-start`. */
export async function relayThroughput(n: number, storeArgs: string[], faults?: ProxyFaults, scrapeEveryMs?: number, clientArgs: string[] = [], follow = false): Promise<ThroughputResult> {
  const server = await startBenchServer(scrapeEveryMs ? [...storeArgs, '--http', '0'] : storeArgs);
  const port = server.port;
  const scraper = scrapeEveryMs ? scrapeMetrics(server, scrapeEveryMs) : undefined;
  try {
    const proxy = faults ? new LossyProxy(port, faults, n) : undefined;
    const clientPort = proxy ? await proxy.start() : port;
    const run = await relayThroughputOn(clientPort, n, clientArgs, follow);
    await proxy?.stop();
    const scrapes = await scraper?.stop();
    if (scraper && !scrapes) throw new Error('/metrics was never scraped');
    return { ...run, serverRssMb: peakRssMb(server.pid) };
  } finally {
    await scraper?.stop();
    await server.stop();
  }
}

/** A writer and a reader through the server at `port`: `seq 1 N`, timed from the writer's start to the reader's last line. */
export async function relayThroughputOn(port: number, n: number, clientArgs: string[] = [], follow = false): Promise<Omit<ThroughputResult, 'serverRssMb'>> {
  const common = ['--port', String(port), '--log-level', 'warn', ...clientArgs];
  const reader = spawn(process.execPath, [...nodeFlags, bin('run-reader'), '-u', 'bench-r', '--format', 'raw', '--count', String(n), ...common, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hash = createHash('sha256');
  reader.stdout.on('data', (d: Buffer) => hash.update(d));
  // Lines written before the reader is registered would be before its starting point.
  await waitForLine(reader.stderr, /registered as/);
  const expected = createHash('sha256');
  const chunk = 10_000;
  const input: string[] = [];
  for (let i = 1; i <= n; i += chunk) {
    let s = '';
    for (let j = i; j < Math.min(i + chunk, n + 1); j++) s += `${j}\n`;
    expected.update(s);
    input.push(s);
  }
  const file = follow ? join(mkdtempSync(join(tmpdir(), 'bench-follow-')), 'app.log') : undefined;
  if (file) writeFileSync(file, input.join(''));
  const started = performance.now();
  const writer = spawn(process.execPath, [...nodeFlags, bin('run-writer'), '-u', 'bench-w', ...common, ...(file ? ['--follow', file, '--from-start'] : [])], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  if (!file) {
    for (const s of input) if (!writer.stdin.write(s)) await once(writer.stdin, 'drain');
    writer.stdin.end();
  }
  const writerExit = once(writer, 'exit');
  const [rcode] = await once(reader, 'exit');
  const read = performance.now();
  // A follower follows on: once the reader has every line, it is told to stop (and exits 0).
  if (file) writer.kill('SIGTERM');
  const [wcode] = await writerExit;
  if (file) rmSync(dirname(file), { recursive: true, force: true });
  const seconds = ((file ? read : performance.now()) - started) / 1000;
  if (wcode !== 0 || rcode !== 0) throw new Error(`writer exit ${wcode}, reader exit ${rcode}`);
  return { lines: n, seconds, linesPerSecond: n / seconds, outputMatches: hash.digest('hex') === expected.digest('hex') };
}

/** Scrapes a server's /metrics every `ms`, as Prometheus would, until stopped; says how many scrapes answered. */
function scrapeMetrics(server: BenchServer, ms: number): { stop(): Promise<number> } {
  const port = Number(/"http":"http:\/\/127\.0\.0\.1:(\d+)\/"/.exec(server.log())?.[1]);
  let answered = 0;
  let last: Promise<void> = Promise.resolve();
  const scrape = async (): Promise<void> => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    if (r.ok && (await r.text()).includes('relay_messages_stored_total')) answered++;
  };
  scrape().catch(() => undefined);
  const timer = setInterval(() => {
    last = scrape().catch(() => undefined);
  }, ms);
  return {
    stop: async () => {
      clearInterval(timer);
      await last;
      return answered;
    },
  };
}

export { median } from './stats.js';

/**
 * Resolves once a stream has said something matching `pattern` (then lets the rest flow, unread); rejects
 * with what it said if it ends first (its process exited: a bench must fail, not wait forever).
 */
export async function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<void> {
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const on = (d: Buffer): void => {
      text += d.toString();
      if (pattern.test(text)) {
        stream.off('data', on);
        stream.off('end', ended);
        stream.resume();
        resolve();
      }
    };
    const ended = (): void => reject(new Error(`ended before saying ${String(pattern)}: ${text.trim()}`));
    stream.on('data', on);
    stream.once('end', ended);
  });
}
