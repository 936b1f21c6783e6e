import { FETCH_DATAGRAMS_MAX } from '../../protocol/constants.js';
import type { Fetch } from '../../protocol/packets.js';
import type { RttEstimator } from '../rtt-estimator.js';

/** A fetch out and not yet answered in full. */
export interface OpenFetch {
  id: number;
  /**
   * Where it asks from, fixed when it is first sent: a repeat says the same, or a server that took the
   * first for a queue group's progress would answer the repeat from there, and send the reader back.
   */
  position: number;
  offset: number;
  lastSentAt: number;
  waitMs: number;
  /** A held poll is sent again after this long; it doubles while nothing comes. */
  resendMs: number;
  maxDatagrams: number;
  sends: number;
  /** When the latest part of any reply arrived while this fetch was open (0: none yet). */
  lastPartAt: number;
  /** The part marked last of this fetch's reply has arrived: any part still missing before it is lost. */
  lastPartSeen: boolean;
  /** Its reply said where it starts (a queue group's lease), and the reader went there. */
  sought?: boolean;
}

/** A reply with a part missing is asked for again after this long at least (or the RTO, if longer). */
const PART_GAP_MS_MIN = 20;
/** Once a reply's last part is here, a missing earlier one is taken as lost after this (reordering is brief). */
const PART_GAP_AFTER_LAST_MS_MIN = 3;
/**
 * A long poll is sent again first after this long, then ever less often (to 1 s) while nothing comes:
 * a lost reply costs little while messages flow, and an idle reader sends little.
 */
const LONG_POLL_RESEND_MS_MIN = 20;
const LONG_POLL_RESEND_MS_MAX = 1_000;

export function openFetch(id: number, position: number, offset: number, waitMs: number, maxDatagrams: number, now: number, rtt: RttEstimator): OpenFetch {
  const resendMs = Math.max(LONG_POLL_RESEND_MS_MIN, rtt.rtoMs);
  return { id, position, offset, lastSentAt: now, waitMs, resendMs, maxDatagrams, sends: 1, lastPartAt: 0, lastPartSeen: false };
}

/** The same fetch goes again: a held poll waits longer before the next time. */
export function resent(f: OpenFetch, now: number): void {
  f.sends++;
  f.lastSentAt = now;
  if (f.waitMs > 0) f.resendMs = Math.min(f.resendMs * 2, LONG_POLL_RESEND_MS_MAX);
}

export function fetchPacket(f: OpenFetch, sessionId: bigint): Fetch {
  return {
    kind: 'fetch',
    sessionId,
    fetchId: f.id,
    position: f.position,
    offset: f.offset,
    waitMs: f.waitMs,
    maxDatagrams: Math.max(1, Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX)),
  };
}

/** When an unanswered fetch, or a reply with parts missing, is asked again. */
export function askAgainAt(f: OpenFetch, rtt: RttEstimator): number {
  if (f.lastPartSeen) return f.lastPartAt + Math.max(PART_GAP_AFTER_LAST_MS_MIN, rtt.smoothedMs / 2);
  if (f.lastPartAt > 0) return f.lastPartAt + Math.max(PART_GAP_MS_MIN, rtt.rtoMs);
  return f.lastSentAt + (f.waitMs > 0 ? f.resendMs : rtt.rtoMs);
}
