import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeServers, parseAddressList, resolveServers } from '../../src/cli/address-list.js';

test('--address lists: hosts with and without ports, IPv6 in brackets or bare', () => {
  assert.deepEqual(parseAddressList('127.0.0.1', 4000), [{ host: '127.0.0.1', port: 4000, transport: 'udp' }]);
  assert.deepEqual(parseAddressList('a.lan:5000, b.lan', 4000), [
    { host: 'a.lan', port: 5000, transport: 'udp' },
    { host: 'b.lan', port: 4000, transport: 'udp' },
  ]);
  assert.deepEqual(parseAddressList('[::1]:5000,::1,[fe80::2]', 4000), [
    { host: '::1', port: 5000, transport: 'udp' },
    { host: '::1', port: 4000, transport: 'udp' },
    { host: 'fe80::2', port: 4000, transport: 'udp' },
  ]);
});

test('--address lists: what is wrong is named in one line', () => {
  const bad = (spec: string, why: RegExp): void => assert.throws(() => parseAddressList(spec, 4000), why);
  bad('a,,b', /invalid --address 'a,,b': an empty entry/);
  bad('a:http', /bad port 'http' in 'a:http'/);
  bad('a:0', /port 0 in 'a:0' is not 1-65535/);
  bad('a:70000', /port 70000 in 'a:70000' is not 1-65535/);
  bad(':5000', /no host in ':5000'/);
  bad('[10.0.0.1]:5000', /'10.0.0.1' is not an IPv6 address/);
  bad(Array.from({ length: 17 }, (_, i) => `h${i}`).join(','), /at most 16 servers/);
});

test('servers are named one way in messages, and a mixed list is resolved for one dual-stack socket', async () => {
  assert.deepEqual(describeServers('127.0.0.1', 4000), { name: 'server 127.0.0.1:4000', are: 'is', where: '127.0.0.1:4000' });
  assert.deepEqual(describeServers('a:1,::1', 4000), { name: 'servers a:1, [::1]:4000', are: 'are', where: 'one of a:1, [::1]:4000' });
  assert.deepEqual(await resolveServers('127.0.0.1:5000,[::1]:5001', 4000), [
    { address: '::ffff:127.0.0.1', port: 5000 },
    { address: '::1', port: 5001 },
  ]);
  assert.deepEqual(await resolveServers('127.0.0.1:5000,127.0.0.2', 4000), [
    { address: '127.0.0.1', port: 5000 },
    { address: '127.0.0.2', port: 4000 },
  ]);
});

test('--address entries may name their transport; the others take --transport', async () => {
  assert.deepEqual(parseAddressList('tcp://a:5000,udp://b,c', 4000, 'tcp'), [
    { host: 'a', port: 5000, transport: 'tcp' },
    { host: 'b', port: 4000, transport: 'udp' },
    { host: 'c', port: 4000, transport: 'tcp' },
  ]);
  assert.deepEqual(parseAddressList('TCP://[::1]:5000', 4000), [{ host: '::1', port: 5000, transport: 'tcp' }]);
  assert.throws(() => parseAddressList('http://a:80', 4000), /unknown transport 'http:\/\/' \(udp:\/\/ or tcp:\/\/\)/);
  assert.throws(() => parseAddressList('tcp://', 4000), /no host/);
  // Messages name a server's transport only where it is not the command's own.
  assert.equal(describeServers('a:1', 4000, 'tcp').name, 'server a:1');
  assert.equal(describeServers('tcp://a:1,b:2', 4000).name, 'servers tcp://a:1, b:2');
  assert.deepEqual(await resolveServers('tcp://127.0.0.1:5000,127.0.0.2', 4000), [
    { address: '127.0.0.1', port: 5000, transport: 'tcp' },
    { address: '127.0.0.2', port: 4000 },
  ]);
  assert.deepEqual(await resolveServers('127.0.0.1:5000', 4000, 'tcp'), [{ address: '127.0.0.1', port: 5000, transport: 'tcp' }]);
});
