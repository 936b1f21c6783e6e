/**
 * One hop of the bare `dgram` relays: `relay PORT_IN TARGET_PORT` forwards every datagram as it comes;
 * `sink PORT` counts lines and prints the count when told (SIGTERM); `source PORT_IN TARGET_PORT` sends
 * each chunk of stdin as a datagram; `print PORT` writes each datagram to stdout. No reliability, no store.
 */
import { createSocket } from 'node:dgram';

const [role, a, b] = process.argv.slice(2);
const sock = createSocket('udp4');
sock.bind(Number(a), '127.0.0.1', () => {
  sock.setRecvBufferSize(4 * 1024 * 1024);
  // print's stdout carries the data: its readiness goes to stderr.
  (role === 'print' ? process.stderr : process.stdout).write('ready\n');
});
if (role === 'source') {
  process.stdin.on('data', (d: Buffer) => sock.send(d, Number(b), '127.0.0.1'));
  process.stdin.on('end', () => sock.close());
} else if (role === 'print') {
  sock.on('message', (d) => process.stdout.write(d));
} else if (role === 'relay') {
  sock.on('message', (d) => sock.send(d, Number(b), '127.0.0.1'));
} else {
  let lines = 0;
  sock.on('message', (d) => {
    for (const byte of d) if (byte === 0x0a) lines++;
  });
  process.on('SIGTERM', () => {
    process.stdout.write(`${lines}\n`);
    process.exit(0);
  });
}
