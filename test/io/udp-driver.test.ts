import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:dgram';
import { test } from 'node:test';
import type { Transmit } from '../../src/core/address.js';
import type { SansIoCore } from '../../src/core/sans-io.js';
import { UdpDriver } from '../../src/io/udp-driver.js';

const to = { address: '127.0.0.1', port: 9 };

/** A socket that records what is sent, in order. */
class FakeSocket extends EventEmitter {
  sent: string[] = [];
  send(data: Buffer, _port: number, _address: string, cb?: (err: Error | null) => void): void {
    this.sent.push(data.toString());
    cb?.(null);
  }
}

/** A core that answers a datagram with an acknowledgement (deferrable) and, once its store read is back, a reply. */
class AckThenReadCore implements SansIoCore {
  queue: Transmit[] = [];
  readDue = false;
  handleDatagram(): void {
    this.queue.push({ to, data: Buffer.from('ack'), deferrable: true });
    this.readDue = true;
  }
  handleTimeout(): void {}
  pollTransmit(): Transmit | undefined {
    return this.queue.shift();
  }
  nextDeadline(): number | undefined {
    return undefined;
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a deferrable datagram goes after the replies whose store results come back in the same turn', async () => {
  const socket = new FakeSocket();
  const core = new AckThenReadCore();
  const driver: UdpDriver = new UdpDriver(socket as unknown as Socket, core, () => {
    if (!core.readDue) return;
    core.readDue = false;
    // A store read, as the server runtime runs it: its result comes back as a promise.
    void Promise.resolve()
      .then(() => undefined)
      .then(() => {
        core.queue.push({ to, data: Buffer.from('reply') });
        driver.pump();
      });
  });
  socket.emit('message', Buffer.from('data'), { address: to.address, port: to.port });
  assert.deepEqual(socket.sent, [], 'nothing goes before the read is back');
  await turn();
  await turn();
  assert.deepEqual(socket.sent, ['reply', 'ack']);
});

test('stopping sends what was deferred first', () => {
  const socket = new FakeSocket();
  const core = new AckThenReadCore();
  const driver = new UdpDriver(socket as unknown as Socket, core, () => undefined);
  socket.emit('message', Buffer.from('data'), { address: to.address, port: to.port });
  driver.stop();
  assert.deepEqual(socket.sent, ['ack']);
  socket.emit('message', Buffer.from('data'), { address: to.address, port: to.port });
  assert.deepEqual(socket.sent, ['ack'], 'a stopped driver takes nothing more');
});
