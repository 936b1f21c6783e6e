// The mutation run's suites (stryker.config.json): each loads a group of test files into one process, so
// that a mutant pays for one start-up per group rather than one per file, and runs only the groups that
// reach its code.
import '../protocol/codec.test.js';
import '../protocol/handshake-payloads.test.js';
import '../protocol/codec-limits.test.js';
import '../protocol/noise.test.js';
import '../protocol/stream-framing.test.js';
import '../protocol/topics.test.js';
