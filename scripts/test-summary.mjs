// Reads vitest's JSON reports and prints the final line of scripts/test.sh: "N passed, N failed[, N skipped]".
// Exit code: 0 only when at least one test ran, none failed and every vitest run exited cleanly.
//
//   node scripts/test-summary.mjs <setup failed: 0|1> <results.json>=<vitest exit code> [<results2.json>=<code> ...]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const [setupArg = '0', ...runArgs] = process.argv.slice(2);
const setupFailed = setupArg === '1' ? 1 : 0;
const runs = (runArgs.length > 0 ? runArgs : ['.vitest-results.json=0']).map((arg) => {
  const at = arg.lastIndexOf('=');
  return { file: arg.slice(0, at), status: Number(arg.slice(at + 1)) || 0 };
});

function finish(passed, failed, skipped, ok) {
  let line = `${passed} passed, ${failed} failed`;
  if (skipped > 0) line += `, ${skipped} skipped`;
  console.log(line);
  process.exit(ok ? 0 : 1);
}

let passed = 0;
let failed = 0;
let skipped = 0;
const brokenFiles = [];
for (const run of runs) {
  let report;
  try {
    report = JSON.parse(readFileSync(run.file, 'utf8'));
  } catch (err) {
    const why = err && err.code === 'ENOENT' ? 'wrote no results' : `left unreadable results (${err.message})`;
    console.error(`test: the test runner ${why} (${run.file}); it exited with code ${run.status}. See its output above.`);
    failed++;
    continue;
  }
  let failedInRun = 0;
  for (const file of report.testResults ?? []) {
    let failedHere = 0;
    for (const test of file.assertionResults ?? []) {
      if (test.status === 'passed') passed++;
      else if (test.status === 'failed') failedHere++;
      else skipped++; // skipped, pending, todo
    }
    failedInRun += failedHere;
    // A file that failed without a failed test did not load, or a hook outside the tests failed: count it once.
    if (file.status === 'failed' && failedHere === 0) {
      failedInRun++;
      brokenFiles.push(file);
    }
  }
  if (run.status !== 0 && failedInRun === 0) {
    // Vitest also fails a run for errors outside any test (unhandled rejections, a worker that could not start,
    // errors after teardown) and when it found no test files: that counts as one failure.
    console.error(`test: vitest exited with code ${run.status} although no test failed (see its output above)`);
    failedInRun++;
  }
  failed += failedInRun;
}

for (const file of brokenFiles) {
  const first = (file.message || 'failed outside its tests').split('\n')[0];
  console.error(`test: ${relative(process.cwd(), file.name)}: ${first}`);
}

if (passed + failed === 0) console.error('test: no test ran');

if (setupFailed) {
  console.error('test: setup failed (install or build; see its output above), counted as one failure');
  failed++;
}

finish(passed, failed, skipped, failed === 0 && passed > 0);
