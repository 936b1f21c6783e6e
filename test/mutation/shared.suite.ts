// Unit tests of what the cores share (addresses, sign-on, liveness) and of the command-line helpers, in
// one process (see protocol.suite.ts).
import '../core/address.test.js';
import '../core/client-sign-on.test.js';
import '../core/liveness.test.js';
import '../core/replay-window.test.js';
import '../core/session-cipher.test.js';
import '../core/sign-on.test.js';
import '../core/timers.test.js';
import '../cli/address-list.test.js';
import '../cli/chat-receipts.test.js';
import '../cli/chat-room.test.js';
import '../cli/format.test.js';
import '../cli/server-identity.test.js';
import '../cli/users-file.test.js';
import '../cli/retention-rules.test.js';
import '../io/line-splitter.test.js';
