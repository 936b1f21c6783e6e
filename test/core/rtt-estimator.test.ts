import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RttEstimator } from '../../src/core/rtt-estimator.js';

// RFC 6298, section 2: SRTT, RTTVAR and RTO from samples, with exponential backoff on timeouts.

test('before any sample: the initial timeout, and it is also the smoothed guess', () => {
  const e = new RttEstimator(15, 2_000, 200);
  assert.equal(e.rtoMs, 200);
  assert.equal(e.smoothedMs, 200);
});

test('the first sample sets SRTT = R and RTTVAR = R/2; RTO = SRTT + 4 RTTVAR', () => {
  const e = new RttEstimator();
  e.sample(100);
  assert.equal(e.smoothedMs, 100);
  assert.equal(e.rtoMs, 300);
});

test('later samples: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R', () => {
  const e = new RttEstimator();
  e.sample(100);
  e.sample(60);
  // RTTVAR = 37.5 + 10 = 47.5; SRTT = 87.5 + 7.5 = 95; RTO = 95 + 190.
  assert.equal(e.smoothedMs, 95);
  assert.equal(e.rtoMs, 285);
  e.sample(140);
  // RTTVAR = 35.625 + 11.25 = 46.875; SRTT = 83.125 + 17.5 = 100.625; RTO = 100.625 + 187.5.
  assert.equal(e.smoothedMs, 100.625);
  assert.equal(e.rtoMs, 288.125);
});

test('a negative sample (a clock step) counts as 0; the variance term is at least 1 ms; RTO has a floor', () => {
  const e = new RttEstimator(0);
  e.sample(-5);
  assert.equal(e.smoothedMs, 0);
  assert.equal(e.rtoMs, 1);
  const floored = new RttEstimator(15);
  floored.sample(1);
  assert.equal(floored.rtoMs, 15);
});

test('each timeout doubles the timeout, up to 8 times and the ceiling; a fresh sample ends the backoff', () => {
  const e = new RttEstimator(15, 100_000, 200);
  e.sample(100);
  const rto = [e.rtoMs];
  for (let i = 0; i < 5; i++) {
    e.timedOut();
    rto.push(e.rtoMs);
  }
  assert.deepEqual(rto, [300, 600, 1200, 2400, 2400, 2400]);
  e.sample(100);
  assert.equal(e.rtoMs, 100 + 4 * 37.5);
  const capped = new RttEstimator(15, 2_000, 200);
  capped.sample(100);
  capped.timedOut();
  capped.timedOut();
  capped.timedOut();
  assert.equal(capped.rtoMs, 2_000);
});

test('the initial timeout backs off too', () => {
  const e = new RttEstimator(15, 2_000, 200);
  e.timedOut();
  assert.equal(e.rtoMs, 400);
  assert.equal(e.smoothedMs, 200, 'backoff leaves the smoothed guess alone');
});
