// make test's last line and what it names, against a real vitest run of a fixture with a
// test that passes only on its retry and a skipped test: the retry is counted and named,
// and under CI=true the skip is counted as a failure and named.
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./exec-server-process.js";

const FIXTURE = `import { expect, it } from "vitest";
let runs = 0;
it("passes on its retry", { retry: 1 }, () => { runs++; expect(runs).toBe(2); });
it.skip("is skipped", () => {});
it("passes", () => { expect(1).toBe(1); });
`;

let dir: string;
let report: string;
let notes: string;

function summary(env: NodeJS.ProcessEnv, files = [report, notes]): { line: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts/test-summary.mjs"), "0", "0", ...files], { encoding: "utf8", env });
  return { line: r.stdout.trim(), stderr: r.stderr, status: r.status };
}

beforeAll(async () => {
  // Inside the repo (so "vitest" resolves from its node_modules), in the git-ignored run dir.
  await mkdir(path.join(REPO_ROOT, ".tether-run"), { recursive: true });
  dir = await mkdtemp(path.join(REPO_ROOT, ".tether-run", "summary-fixture-"));
  await writeFile(path.join(dir, "retry.fixture.mjs"), FIXTURE);
  await writeFile(path.join(dir, "vitest.config.mjs"), `export default { test: { include: ["*.fixture.mjs"], retry: 0 } };\n`);
  report = path.join(dir, "report.json");
  notes = path.join(dir, "notes.json");
  const run = spawnSync(
    process.execPath,
    [
      path.join(REPO_ROOT, "node_modules/vitest/vitest.mjs"), "run", "--root", dir, "--config", path.join(dir, "vitest.config.mjs"),
      "--reporter=json", `--outputFile.json=${report}`, `--reporter=${path.join(REPO_ROOT, "scripts/vitest-retries.mjs")}`,
    ],
    { encoding: "utf8", env: { ...process.env, TETHER_TEST_NOTES: notes, CI: "" }, timeout: 120_000 },
  );
  expect(run.status, `vitest: ${run.stdout}\n${run.stderr}`).toBe(0);
}, 150_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("scripts/test-summary.mjs with scripts/vitest-retries.mjs", () => {
  it("counts and names the retried test outside CI, and reports the skip without failing", () => {
    const out = summary({ ...process.env, CI: "" });
    expect(out.line).toBe("2 passed, 0 failed, 1 retried, 1 skipped");
    expect(out.stderr).toMatch(/test: retried 1x, passed on retry: retry\.fixture\.mjs > passes on its retry/);
    expect(out.stderr).not.toMatch(/skipped under CI/);
  });

  it("under CI=true counts the skipped test as failed and names it", () => {
    const out = summary({ ...process.env, CI: "true" });
    expect(out.line).toBe("2 passed, 1 failed, 1 retried, 1 skipped");
    expect(out.stderr).toMatch(/test: skipped under CI=true \(counted as failed\): retry\.fixture\.mjs > is skipped/);
  });

  it("counts missing notes as a failure instead of claiming nothing was retried", () => {
    const out = summary({ ...process.env, CI: "" }, [report, path.join(dir, "missing-notes.json")]);
    expect(out.line).toMatch(/^2 passed, 1 failed, 0 retried/);
    expect(out.stderr).toMatch(/no readable retry notes/);
  });
});
