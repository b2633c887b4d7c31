// The last line of `make test` (scripts/test.sh): `N passed, N failed, N retried[, N skipped]`,
// from vitest's JSON reports and this repo's notes (scripts/vitest-retries.mjs). Retried
// tests are named on stderr; under CI=true a skipped test is named and counted as failed.
// Usage: node scripts/test-summary.mjs VITEST_RC FAILED_STEPS [REPORT NOTES]...
import fs from "node:fs";

const [vitestRc, failedSteps, ...files] = process.argv.slice(2);
const ci = process.env.CI === "true";
let passed = 0, failed = Number(failedSteps), skipped = 0, retried = 0;
// Pairs: vitest's JSON report, then this repo's notes (retried and skipped tests by name).
for (let i = 0; i < files.length; i += 2) {
  const report = files[i], notesFile = files[i + 1];
  let notes;
  try { notes = JSON.parse(fs.readFileSync(notesFile, "utf8")); } catch (err) {
    console.error(`test: no readable retry notes at ${notesFile} (${err.message}): retried tests cannot be counted`);
    failed++;
    notes = { retried: [], skipped: [] };
  }
  for (const t of notes.retried) console.error(`test: retried ${t.retries}x, ${t.state === "pass" ? "passed on retry" : "failed"}: ${t.name}`);
  retried += notes.retried.length;
  if (ci) for (const t of notes.skipped) console.error(`test: skipped under CI=true (counted as failed): ${t.name}`);
  let r;
  try { r = JSON.parse(fs.readFileSync(report, "utf8")); } catch (err) {
    console.error(`test: no readable vitest report at ${report} (${err.message}): vitest crashed`);
    failed++;
    continue;
  }
  passed += r.numPassedTests;
  const skippedHere = r.numPendingTests + r.numTodoTests;
  skipped += skippedHere;
  // In CI nothing may vanish quietly: a skip is a failure.
  if (ci) failed += Math.max(skippedHere, notes.skipped.length);
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"));
  for (const f of brokenFiles) console.error(`test: ${f.name} failed outside any test: ${(f.message || "").split("\n")[0]}`);
  failed += r.numFailedTests + brokenFiles.length;
}
if (Number(vitestRc) !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${retried} retried${skipped ? `, ${skipped} skipped` : ""}`);
