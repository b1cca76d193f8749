// Reads vitest's JSON report and prints the final line of scripts/test.sh: "N passed, N failed[, N skipped]".
// Exit code: 0 only when at least one test ran, none failed and vitest itself exited cleanly.
//
//   node scripts/test-summary.mjs <results.json> <vitest exit code> [<setup failed: 0|1>]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const [file = '.vitest-results.json', statusArg = '0', setupArg = '0'] = process.argv.slice(2);
const vitestStatus = Number(statusArg) || 0;
const setupFailed = setupArg === '1' ? 1 : 0;

function finish(passed, failed, skipped, ok) {
  let line = `${passed} passed, ${failed} failed`;
  if (skipped > 0) line += `, ${skipped} skipped`;
  console.log(line);
  process.exit(ok ? 0 : 1);
}

let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  const why = err && err.code === 'ENOENT' ? 'wrote no results' : `left unreadable results (${err.message})`;
  console.error(`test: the test runner ${why}; it exited with code ${vitestStatus}. See its output above.`);
  finish(0, 1 + setupFailed, 0, false);
}

let passed = 0;
let failed = 0;
let skipped = 0;
const brokenFiles = [];
for (const file of report.testResults ?? []) {
  let failedHere = 0;
  for (const test of file.assertionResults ?? []) {
    if (test.status === 'passed') passed++;
    else if (test.status === 'failed') failedHere++;
    else skipped++; // skipped, pending, todo
  }
  failed += failedHere;
  // A file that failed without a failed test did not load, or a hook outside the tests failed: count it once.
  if (file.status === 'failed' && failedHere === 0) {
    failed++;
    brokenFiles.push(file);
  }
}

for (const file of brokenFiles) {
  const first = (file.message || 'failed outside its tests').split('\n')[0];
  console.error(`test: ${relative(process.cwd(), file.name)}: ${first}`);
}

if (passed + failed === 0) console.error('test: no test ran');

if (vitestStatus !== 0 && failed === 0) {
  // Vitest also fails a run for errors outside any test (unhandled rejections, a worker that could not start,
  // errors after teardown) and when it found no test files: that counts as one failure.
  console.error(`test: vitest exited with code ${vitestStatus} although no test failed (see its output above)`);
  failed++;
}

if (setupFailed) {
  console.error('test: setup failed (install or build; see its output above), counted as one failure');
  failed++;
}

finish(passed, failed, skipped, failed === 0 && passed > 0);
