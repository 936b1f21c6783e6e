// One NATS client of the bench, on the official `nats` package, as a process of its own (as
// mosquitto_pub and mosquitto_sub are, and our writer and reader):
//   node nats-client.mjs stream URL MODE SUBJECT      makes the file stream 'bench' of SUBJECT
//   node nats-client.mjs pub  URL MODE SUBJECT        stdin lines → NATS
//   node nats-client.mjs sub  URL MODE SUBJECT COUNT  NATS → stdout lines, COUNT of them, then exits
// MODE: core (publish/subscribe, nothing stored), js (JetStream: publisher awaits each ack, 8,192 in
// flight; durable pull consumer acking each message), js-dedup (js, each message with a Nats-Msg-Id).
// The subscriber says "ready" on stderr once it listens.
import { connect, AckPolicy, StorageType } from 'nats';

const [role, url, mode, subject, countText] = process.argv.slice(2);
const nc = await connect({ servers: url });
const STREAM = 'bench';
const IN_FLIGHT = 8_192;

if (role === 'stream') {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: STREAM, subjects: [subject], storage: StorageType.File });
  await nc.drain();
} else if (role === 'pub') {
  const js = mode === 'core' ? undefined : nc.jetstream();
  const pending = new Set();
  let seq = 0;
  let rest = '';
  // Something to wait for only when 8,192 acks are outstanding: an await per line would cost a tick each.
  const send = (line) => {
    seq++;
    if (!js) return nc.publish(subject, line);
    const ack = js.publish(subject, line, mode === 'js-dedup' ? { msgID: String(seq) } : undefined);
    pending.add(ack);
    ack.finally(() => pending.delete(ack));
    return pending.size >= IN_FLIGHT ? Promise.race(pending) : undefined;
  };
  for await (const chunk of process.stdin) {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const full = send(line);
      if (full) await full;
    }
  }
  if (rest !== '') await send(rest);
  await Promise.all(pending);
  await nc.flush();
  await nc.drain();
} else {
  const count = Number(countText);
  const out = [];
  let got = 0;
  const print = (data) => {
    out.push(data, '\n');
    if (out.length >= 2_000) flush();
  };
  const flush = () => {
    if (out.length) process.stdout.write(Buffer.from(out.join('')));
    out.length = 0;
  };
  if (mode === 'core') {
    const sub = nc.subscribe(subject);
    await nc.flush();
    process.stderr.write('ready\n');
    for await (const m of sub) {
      print(m.string());
      if (++got === count) break;
    }
  } else {
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(STREAM, { durable_name: 'reader', ack_policy: AckPolicy.Explicit, filter_subject: subject });
    const consumer = await nc.jetstream().consumers.get(STREAM, 'reader');
    const messages = await consumer.consume({ max_messages: IN_FLIGHT });
    process.stderr.write('ready\n');
    for await (const m of messages) {
      print(m.string());
      m.ack();
      if (++got === count) break;
    }
  }
  flush();
  await nc.flush();
  await nc.drain();
}
