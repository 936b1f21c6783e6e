import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, formatAddress, isLoopback } from '../../src/core/address.js';
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
