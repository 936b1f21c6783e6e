import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, formatAddress, formatEndpoint, isLoopback, takesLargePackets } from '../../src/core/address.js';
import { ServerList } from '../../src/core/server-list.js';

test('addresses: a key per address and port; IPv6 written in brackets', () => {
  assert.equal(addressKey({ address: '10.0.0.1', port: 7 }), '10.0.0.1|7');
  assert.notEqual(addressKey({ address: '10.0.0.1', port: 7 }), addressKey({ address: '10.0.0.1', port: 8 }));
  assert.equal(formatAddress({ address: '10.0.0.1', port: 7 }), '10.0.0.1:7');
  assert.equal(formatAddress({ address: '::1', port: 7 }), '[::1]:7');
});

test('loopback: 127/8, ::1, and 127/8 mapped into IPv6; nothing else', () => {
  for (const a of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback({ address: a, port: 1 }), true, a);
  for (const a of ['10.0.0.1', '0.0.0.0', '::2', '::', '::ffff:10.0.0.1', '192.168.1.127', 'fe80::1']) {
    assert.equal(isLoopback({ address: a, port: 1 }), false, a);
  }
});

test('server list: the current server, moving round the list, telling servers apart by port', () => {
  assert.throws(() => new ServerList([], 0), /at least one server/);
  const one = new ServerList([{ address: '127.0.0.1', port: 1 }], 0);
  assert.equal(one.canMove, false);
  const list = new ServerList(
    [
      { address: '127.0.0.1', port: 1 },
      { address: '127.0.0.1', port: 2 },
      { address: '127.0.0.1', port: 3 },
    ],
    10,
  );
  assert.equal(list.canMove, true);
  assert.equal(list.since, 10);
  assert.equal(list.isCurrent({ address: '127.0.0.2', port: 1 }), true, 'another address of the same server');
  assert.equal(list.isCurrent({ address: '127.0.0.1', port: 2 }), false);
  assert.deepEqual(list.moveOn(20), { address: '127.0.0.1', port: 1 });
  assert.equal(list.current.port, 2);
  assert.equal(list.since, 20);
  list.moveOn(30);
  assert.deepEqual(list.moveOn(40), { address: '127.0.0.1', port: 3 });
  assert.equal(list.current.port, 1, 'round the list');
});

test('addresses over TCP: keyed by link apart from UDP on the same port; a client reconnecting keeps its key', () => {
  const udp = { address: '10.0.0.1', port: 7 };
  const tcp = { address: '10.0.0.1', port: 7, transport: 'tcp' as const };
  assert.notEqual(addressKey(udp), addressKey(tcp));
  const first = { address: '10.0.0.1', port: 50_001, transport: 'tcp' as const, link: 'ab12' };
  const again = { ...first, port: 50_002 };
  assert.equal(addressKey(first), addressKey(again));
  assert.notEqual(addressKey(first), addressKey({ ...first, address: '10.0.0.2' }));
  assert.notEqual(addressKey(first), addressKey({ ...first, link: 'ab13' }));
  assert.equal(formatEndpoint(tcp), 'tcp://10.0.0.1:7');
  assert.equal(formatEndpoint(udp), '10.0.0.1:7');
  assert.equal(takesLargePackets({ address: '10.0.0.1', port: 7 }), false);
  assert.equal(takesLargePackets(tcp), true);
  const list = new ServerList([udp, tcp], 0);
  assert.equal(list.isCurrent(udp), true);
  assert.equal(list.isCurrent(tcp), false);
  list.moveOn(1);
  assert.equal(list.isCurrent(tcp), true);
});
