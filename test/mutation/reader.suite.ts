// The reader core's unit tests, in one process (see protocol.suite.ts).
import '../core/presence-tracker.test.js';
import '../core/reader-core.test.js';
import '../core/reassembly.test.js';
import '../core/topic-lister.test.js';
import '../core/topic-subscription.test.js';
