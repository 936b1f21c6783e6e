// The relay's end-to-end suites (writers, readers, groups, direct messages, --once, --file, resume,
// crashes of the server, authenticated mode and limits) again, with every client over TCP: the same
// assertions hold on both transports.
import { useTransport } from './processes.js';

useTransport('tcp');
await import('./relay.test.js');
await import('./durable.test.js');
await import('./seed-features.test.js');
await import('./security.test.js');
