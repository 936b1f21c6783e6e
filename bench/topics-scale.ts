import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { openStore, topicStores } from '../src/store/open-store.js';
import { appendByTopic } from '../src/store/topic-stores.js';
import { NO_RETENTION } from '../src/store/store.js';
import { peakRssMb } from './fanout.js';
import { bin, relayThroughputOn, startBenchServer } from './relay.js';

/** A sqlite data directory holding `n` topics (besides the default one), a message in each. */
export async function seedTopics(dataDir: string, n: number): Promise<void> {
  const opts = { spec: 'sqlite', dataDir, retention: NO_RETENTION, fsync: false };
  const stores = topicStores(await openStore(opts), opts, n + 1);
  for (let i = 0; i < n; i++) {
    await appendByTopic(stores, [{ topic: `seed.t${i}`, producerId: 1n, lastSeq: 1, messages: [{ ts: Date.now(), from: 'seed', text: Buffer.from(`topic ${i}`) }] }]);
  }
  await stores.close();
}

export interface ScaleResult {
  /** Time to list every topic (`run-reader --topics`), which opens each topic's log. */
  listSeconds: number;
  topicsListed: number;
  /** The server's peak memory, and the files it holds open, after the listing and the throughput run. */
  rssMb: number;
  files: number;
  /** `seq 1 N` through one more topic, with the others all there. */
  linesPerSecond: number;
}

/** A server on a data directory seeded with topics: what listing them all costs, then a stream on one more topic. */
export async function topicsScale(dataDir: string, topics: number, lines: number): Promise<ScaleResult> {
  const server = await startBenchServer(['--store', 'sqlite', '--max-topics', String(topics + 10)], dataDir);
  try {
    const started = performance.now();
    const lister = spawn(process.execPath, [bin('run-reader'), '-u', 'bench-lister', '--port', String(server.port), '--topics', '--format', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let listed = '';
    lister.stdout.on('data', (d: Buffer) => (listed += d.toString()));
    const [code] = await once(lister, 'exit');
    if (code !== 0) throw new Error(`run-reader --topics exited ${String(code)}`);
    const listSeconds = (performance.now() - started) / 1000;
    const run = await relayThroughputOn(server.port, lines, ['--topic', 'bench.scale']);
    if (!run.outputMatches) throw new Error('topics scale: the reader\'s output differs from the input');
    return {
      listSeconds,
      topicsListed: listed.split('\n').filter(Boolean).length,
      rssMb: peakRssMb(server.pid),
      files: readdirSync(`/proc/${server.pid}/fd`).length,
      linesPerSecond: run.linesPerSecond,
    };
  } finally {
    await server.stop();
  }
}
