import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeControls, formatMessage, formatPackage, formatPeople, localTime } from '../../src/cli/format.js';

const m = { id: 7, ts: Date.UTC(2026, 10, 21, 12, 0, 1), from: 'alice', text: Buffer.from('hi') };

test('json: id, ISO time, sender, text; to only for direct messages', () => {
  assert.deepEqual(JSON.parse(formatMessage(m, 'json') as string), { topic: 'main', id: 7, ts: '2026-11-21T12:00:01.000Z', from: 'alice', text: 'hi' });
  const dm = JSON.parse(formatMessage({ ...m, to: 'bob' }, 'json') as string);
  assert.equal(dm.to, 'bob');
});

test('a line read from a file says which: json "file", text after the sender (escaped), raw the text alone', () => {
  const f = { ...m, file: '/var/log/app\x1b.log' };
  assert.equal(JSON.parse(formatMessage(f, 'json') as string).file, '/var/log/app\x1b.log');
  assert.equal(JSON.parse(formatMessage(m, 'json') as string).file, undefined);
  assert.match(formatMessage(f, 'text') as string, / alice \[\/var\/log\/app\\x1b\.log\]: hi\n$/);
  assert.match(formatMessage({ ...f, to: 'bob' }, 'text') as string, / alice \[\/var\/log\/app\\x1b\.log\] \(direct to bob\): hi\n$/);
  assert.equal((formatMessage(f, 'raw') as Buffer).toString(), 'hi\n');
});

test('raw: the bytes alone, untouched', () => {
  const bin = Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff]);
  assert.ok((formatMessage({ ...m, text: bin }, 'raw') as Buffer).equals(Buffer.concat([bin, Buffer.from('\n')])));
});

test('text: no escape sequence or control character reaches the terminal', () => {
  const evil = Buffer.from('evil\x1b[2J\x1b]0;x\x07end\u009b\r');
  const out = formatMessage({ ...m, text: evil }, 'text') as string;
  assert.match(out, /alice: evil\\x1b\[2J\\x1b\]0;x\\x07end\\x9b\\x0d\n$/);
  // eslint-disable-next-line no-control-regex
  assert.equal(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/.test(out), false);
  assert.equal(escapeControls('tab\tstays'), 'tab\tstays');
});

test('a package is one buffer of all its lines', () => {
  assert.equal(formatPackage([m, { ...m, id: 8 }], 'raw').toString(), 'hi\nhi\n');
});

test("the chat's /who shows one row per person: online if any of their sessions is, last seen at the latest", () => {
  const at = (m: number) => Date.UTC(2026, 0, 1, 12, m);
  const out = formatPeople([
    { name: 'bob', role: 'writer', online: false, lastSeen: at(5), topic: 'main' },
    { name: 'bob', role: 'reader', online: true, lastSeen: at(3), topic: 'chat.ops' },
    { name: 'al', role: 'writer', online: false, lastSeen: at(1), topic: 'main' },
    { name: 'al', role: 'reader', online: false, lastSeen: at(2), topic: 'main' },
    { name: 'carol', role: 'reader', online: true, lastSeen: at(4), topic: 'main' },
  ]);
  assert.equal(
    out,
    [`bob    online   last seen ${localTime(at(5))}`, `carol  online   last seen ${localTime(at(4))}`, `al     offline  last seen ${localTime(at(2))}`, '']
      .join('\n'),
  );
});
