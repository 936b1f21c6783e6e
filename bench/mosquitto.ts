import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCommand, freePort } from '../test/e2e/system-tools.js';
import { arrivalLatencies, sendPaced } from './paced-lines.js';

/** mosquitto_pub -l gives up after 65,535 lines at QoS 1 (and still exits 0): QoS 1 input goes in runs below that. */
const QOS1_RUN_LINES = 60_000;

export interface Broker {
  port: number;
  stop(): Promise<void>;
}

/** Our own mosquitto on loopback (installed from Debian packages when missing), queueing without limit. */
export async function startBroker(): Promise<Broker> {
  ensureCommand('mosquitto', 'mosquitto');
  ensureCommand('mosquitto_pub', 'mosquitto-clients');
  const dir = mkdtempSync(join(tmpdir(), 'relay-mqtt-'));
  const port = await freePort();
  // By default the broker drops QoS 1 messages past 1,000 queued for a subscriber: that would not be a relay.
  writeFileSync(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n`);
  const proc = spawn('mosquitto', ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await canConnect(port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stop: async () => {
      proc.kill('SIGTERM');
      await once(proc, 'exit').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

const subscribe = (port: number, topic: string, qos: 0 | 1, count: number): ChildProcess =>
  spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', String(qos), '-C', String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });

/** `seq 1 N` through mosquitto_pub -l → broker → mosquitto_sub, timed from the publisher's start to the subscriber's last line. */
export async function mosquittoThroughput(port: number, n: number, qos: 0 | 1): Promise<{ linesPerSecond: number; outputMatches: boolean }> {
  const topic = `bench/${qos}/${Math.random().toString(36).slice(2)}`;
  const sub = subscribe(port, topic, qos, n);
  const subExit = once(sub, 'exit'); // it may be done before the publisher is
  const got = createHash('sha256');
  sub.stdout!.on('data', (d: Buffer) => got.update(d));
  await new Promise((r) => setTimeout(r, 500)); // subscribed before the first line, as our reader is registered
  const expected = createHash('sha256');
  const started = performance.now();
  const runLines = qos === 1 ? QOS1_RUN_LINES : n;
  for (let from = 1; from <= n; from += runLines) {
    const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', String(qos), '-l'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const to = Math.min(n, from + runLines - 1);
    for (let i = from; i <= to; i += 10_000) {
      let s = '';
      for (let j = i; j <= Math.min(to, i + 9_999); j++) s += `${j}\n`;
      expected.update(s);
      if (!pub.stdin!.write(s)) await once(pub.stdin!, 'drain');
    }
    pub.stdin!.end();
    await once(pub, 'exit');
  }
  const timer = setTimeout(() => sub.kill(), 120_000);
  await subExit;
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  return { linesPerSecond: n / seconds, outputMatches: got.digest('hex') === expected.digest('hex') };
}

/** Latency of lines published 1 ms apart, each carrying its send time, as mosquitto_sub prints them (the first `warmup` not counted). */
export async function mosquittoLatency(port: number, count: number, warmup: number, qos: 0 | 1 = 0): Promise<number[]> {
  const topic = `bench/latency/${Math.random().toString(36).slice(2)}`;
  const sub = subscribe(port, topic, qos, count + warmup);
  const subExit = once(sub, 'exit');
  const latencies = arrivalLatencies(sub.stdout!);
  await new Promise((r) => setTimeout(r, 500));
  const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', String(qos), '-l'], { stdio: ['pipe', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 300)); // connected
  await sendPaced(pub.stdin!, count + warmup);
  pub.stdin!.end();
  const timer = setTimeout(() => sub.kill(), 30_000);
  await subExit;
  clearTimeout(timer);
  return latencies.slice(warmup);
}
