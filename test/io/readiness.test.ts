import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readiness } from '../../src/monitor/readiness.js';

test('/readyz: ready only once the store is open and reachable, the server listens, and it is not stopping; else why not', () => {
  const r = new Readiness();
  assert.deepEqual([r.ready, r.reason], [false, 'the store is not open yet']);
  r.storeOpen = true;
  assert.deepEqual([r.ready, r.reason], [false, 'not listening yet'], 'the store open, the sockets not bound yet: no work can come');
  r.listening = true;
  assert.deepEqual([r.ready, r.reason], [true, undefined]);
  r.storeReachable = false;
  assert.deepEqual([r.ready, r.reason], [false, 'the store cannot be reached']);
  r.storeReachable = true;
  r.draining = true;
  assert.deepEqual([r.ready, r.reason], [false, 'stopping']);
});
