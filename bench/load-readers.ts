/**
 * Many reader sessions in one process, through the project's own client code (ReaderCore + PacketDriver).
 * `load-readers PORT COUNT DELAY_MS EXPECTED`: registers COUNT readers (each on its own socket), says
 * "registered", then counts what each receives; says "done" with the counts when every reader has
 * EXPECTED messages (EXPECTED 0: stays idle until SIGTERM).
 */
import { READER_DEFAULTS, ReaderCore } from '../src/core/reader/reader-core.js';
import { now } from '../src/io/clock.js';
import { randomNonce } from '../src/io/random.js';
import { openClientTransport } from '../src/io/client-transport.js';
import { PacketDriver } from '../src/io/packet-driver.js';
import { noiseCrypto } from '../src/io/noise-crypto.js';
import { FromKind } from '../src/protocol/constants.js';

const [port, count, delayMs, expected] = process.argv.slice(2).map(Number) as [number, number, number, number];
const server = { address: '127.0.0.1', port };
// Encrypted, as every run-reader session is; the server is the bench's own, started just now on
// loopback, so its key is taken as it comes.
const encryption = { crypto: noiseCrypto, serverKeys: { check: () => undefined, remember: () => undefined } };
const received = new Array<number>(count).fill(0);
let registered = 0;
let complete = 0;
const drivers: PacketDriver[] = [];

for (let i = 0; i < count; i++) {
  const transport = await openClientTransport([server]);
  const core = new ReaderCore(
    { ...READER_DEFAULTS, name: `load${i}`, servers: [server], nonce: randomNonce(), fromKind: FromKind.Latest, delayMs, encryption },
    now(),
  );
  const driver = new PacketDriver(transport, core, () => {
    for (let e = core.pollEvent(); e; e = core.pollEvent()) {
      if (e.type === 'registered' && !e.again && ++registered === count) process.stdout.write('registered\n');
      if (e.type === 'messages') {
        const before = received[i]!;
        received[i] = before + e.messages.length;
        if (expected > 0 && before < expected && received[i]! >= expected && ++complete === count) {
          process.stdout.write(`done ${JSON.stringify({ min: Math.min(...received), max: Math.max(...received) })}\n`);
        }
      }
    }
  });
  drivers.push(driver);
  driver.pump();
}
process.on('SIGTERM', () => {
  process.stdout.write(`counts ${JSON.stringify({ min: Math.min(...received), max: Math.max(...received) })}\n`);
  process.exit(0);
});
