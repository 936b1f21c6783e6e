// The server core's unit tests, in one process (see protocol.suite.ts).
import '../core/handshake.test.js';
import '../core/name-claims.test.js';
import '../core/presence-journal.test.js';
import '../core/queue-group.test.js';
import '../core/rate-limits-and-cookies.test.js';
import '../core/reply-builder.test.js';
import '../core/server-auth.test.js';
import '../core/server-core.test.js';
import '../core/server-gates.test.js';
import '../core/server-groups.test.js';
import '../core/server-marks.test.js';
import '../core/server-sessions.test.js';
import '../core/server-snapshot.test.js';
import '../core/server-store-results.test.js';
import '../core/server-topics.test.js';
import '../core/server-tracking.test.js';
import '../core/writer-ingest.test.js';
