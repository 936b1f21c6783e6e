import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Monitor } from './monitor.js';
import { STATUS_PAGE, STATUS_SCRIPT } from './status-page.js';

/** Connections the monitoring port serves at once: a few scrapers and browsers, not a crowd. */
const CONNECTIONS_MAX = 64;

export interface HttpMonitor {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /metrics, /healthz, /readyz, /status and the status page (/) on node:http. */
export async function startHttpMonitor(host: string, port: number, monitor: Monitor): Promise<HttpMonitor> {
  const server = createServer((req, res) => {
    route(req, res, monitor).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `error: ${String(err)}\n`);
      else res.destroy();
    });
  });
  server.maxConnections = CONNECTIONS_MAX;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, monitor: Monitor): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
  }
  const path = new URL(req.url ?? '/', 'http://relay').pathname;
  switch (path) {
    case '/metrics': {
      const registry = monitor.metrics!.registry;
      return send(res, 200, registry.contentType, await registry.metrics());
    }
    case '/healthz':
      return sendJson(res, 200, { status: 'ok' });
    case '/readyz': {
      const r = monitor.readiness;
      return sendJson(res, r.ready ? 200 : 503, r.ready ? { status: 'ready' } : { status: 'not ready', reason: r.reason });
    }
    case '/status':
      return sendJson(res, 200, await monitor.status());
    case '/':
      return send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE);
    case '/status.js':
      return send(res, 200, 'text/javascript; charset=utf-8', STATUS_SCRIPT);
    default:
      return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /status, /metrics, /healthz or /readyz\n');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body, null, 1) + '\n');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // Names on the page come from the network: no inline script runs, whatever one of them holds.
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
