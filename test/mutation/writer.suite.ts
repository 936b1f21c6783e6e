// The writer core's unit tests, in one process (see protocol.suite.ts).
import '../core/congestion.test.js';
import '../core/line-packer.test.js';
import '../core/mark-recall.test.js';
import '../core/rtt-estimator.test.js';
import '../core/sent-window.test.js';
import '../core/writer-core.test.js';
