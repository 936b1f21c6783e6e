import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { decode, encode } from '../../src/protocol/codec.js';
import { Role } from '../../src/protocol/constants.js';
import { startWatchedServer, until, type WatchedServer } from './monitoring.js';
import { lines, sleep, start, startReader, type Running } from './processes.js';
import { ensureCommand } from './system-tools.js';

// The status page as a person sees it: in a real browser (Debian's chromium, driven by playwright-core).

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/** Signs on with a name the server must refuse, the way a hostile client would: HELLO, RETRY, HELLO. */
async function helloAs(port: number, name: string): Promise<string> {
  const socket = createSocket('udp4');
  try {
    const hello = { kind: 'hello', role: Role.Writer, nonce: 7, name, producerId: 99n, nextSeq: 1 } as const;
    socket.send(encode({ ...hello, cookie: Buffer.alloc(0) }), port, '127.0.0.1');
    const [retry] = (await once(socket, 'message')) as [Buffer];
    const r = decode(retry);
    assert.equal(r.kind, 'retry');
    socket.send(encode({ ...hello, cookie: r.kind === 'retry' ? r.cookie : Buffer.alloc(0) }), port, '127.0.0.1');
    const [answer] = (await once(socket, 'message')) as [Buffer];
    return decode(answer).kind;
  } finally {
    socket.close();
  }
}

const cellsOf = (page: Page, table: string): Promise<string[][]> =>
  page.$$eval(`#${table} tbody tr`, (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));


describe('the status page in a browser', () => {
  let context: BrowserContext;
  let profile: string;
  before(async () => {
    ensureCommand('chromium', 'chromium');
    profile = mkdtempSync(join(tmpdir(), 'relay-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  test("shows a writer's rate and a reader's lag change while lines flow, and a hostile name as text", async () => {
    const s: WatchedServer = await startWatchedServer();
    let reader: Running | undefined;
    let writer: Running | undefined;
    let feeding = true;
    try {
      const port = String(s.port);
      reader = await startReader(['-u', 'watcher', '--port', port, '--format', 'raw']);
      reader.proc.kill('SIGSTOP');
      writer = start('run-writer', ['-u', 'shipper', '--port', port]);
      const w = writer;
      // 2,000 lines a second, for at most 30 s: the page is watched meanwhile.
      const feed = (async () => {
        for (let i = 0; feeding && i < 300; i++) {
          w.proc.stdin!.write(lines(i * 200 + 1, i * 200 + 200));
          await sleep(100);
        }
        w.proc.stdin!.end();
      })();

      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`http://127.0.0.1:${s.http}/`);
      const rate = await until('the writer and its rate', async () => {
        const row = (await cellsOf(page, 'writer-table')).find((r) => r[0] === 'shipper');
        const perSecond = Number(row?.[2]?.replace(/,/g, ''));
        return perSecond > 0 ? perSecond : undefined;
      });
      assert.ok(rate > 500 && rate < 5_000, `about 2,000 lines/s: ${rate}`);
      const lagOf = async (): Promise<number | undefined> => {
        const row = (await cellsOf(page, 'reader-table')).find((r) => r[0] === 'watcher');
        return row ? Number(row[3]!.replace(/,/g, '')) : undefined;
      };
      const lag1 = await until("the reader's lag", lagOf);
      const lag2 = await until('the lag to grow', async () => {
        const l = await lagOf();
        return l !== undefined && l > lag1 ? l : undefined;
      });
      assert.ok(lag2 > lag1);
      assert.notEqual(await page.textContent('#rate'), '0', 'the lines/s card moves too');

      assert.equal(await helloAs(s.port, '<script>pwned=1</script>'), 'refuse');
      assert.equal(await helloAs(s.port, '<img src=x onerror=pwned=2>'), 'refuse');
      const errors = await until('the refusals on the page', async () => {
        const rows = await cellsOf(page, 'error-table');
        return rows.some((r) => r[1]!.includes('<img src=x onerror=pwned=2>')) ? rows : undefined;
      });
      assert.ok(errors.some((r) => r[1]!.startsWith('refused <script>pwned=1</script> from 127.0.0.1:')), 'shown as the text it is');
      assert.equal(await page.evaluate('typeof window.pwned'), 'undefined', 'nothing of it ran');
      assert.equal(await page.evaluate("document.querySelectorAll('img').length"), 0, 'nor became an element');
      assert.equal(await page.evaluate('document.scripts.length'), 1);

      reader.proc.kill('SIGCONT');
      const caughtUp = await until('the reader to catch up once woken', async () => {
        const l = await lagOf();
        return l !== undefined && l < lag2 ? l : undefined;
      });
      assert.ok(caughtUp < lag2);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
      feeding = false;
      await feed;
      assert.equal((await writer.done).code, 0);
    } finally {
      feeding = false;
      reader?.proc.kill('SIGCONT');
      reader?.proc.kill('SIGTERM');
      writer?.proc.kill('SIGTERM');
      await Promise.all([reader?.done, writer?.done]);
      await s.stop();
    }
  });
});
