import { request } from 'node:http';
import { sleep, startServer, type Server } from './processes.js';

/** A server with --http on a free port, and where its status page is. */
export interface WatchedServer extends Server {
  http: number;
}

export async function startWatchedServer(args: string[] = [], cwd?: string): Promise<WatchedServer> {
  const s = await startServer(['--http', '0', ...args], cwd);
  const m = /"http":"http:\/\/127\.0\.0\.1:(\d+)\/"/.exec(s.stderr());
  if (!m) throw new Error(`no status page address in: ${s.stderr()}`);
  return { ...s, http: Number(m[1]) };
}

export interface Answer {
  status: number;
  type: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request to the monitoring port. */
export function get(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one series of a Prometheus text exposition; undefined if absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(/,(?=[a-zA-Z_]+=")/) : [];
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

export async function scrape(port: number): Promise<string> {
  const a = await get(port, '/metrics');
  if (a.status !== 200) throw new Error(`/metrics answered ${a.status}`);
  return a.body;
}

/** Polls `probe` until it returns something, or fails after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
