// `make bench ARGS=--quick` as a test: every benchmark still runs end to end (tether, its ssh peer
// and the machine's limits) and writes its JSON. No timing is asserted. Needs the built bundle
// (make test builds it). In CI every subject must run; elsewhere one may be skipped for a
// missing tool (docker, sshd), which the test prints.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const entry = resolve("dist/bench/run.js");
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

// CI builds first (make test), so there a missing bundle fails the test instead of skipping it.
const unbuilt = !existsSync(entry) && process.env.CI !== "true";
if (unbuilt) console.log(`bench --quick skipped: ${entry} is missing; run \`make build\` first`);

describe.skipIf(unbuilt)("make bench ARGS=--quick", () => {
  it("runs every benchmark and writes one result per benchmark", async () => {
    const results = await mkdtemp(join(tmpdir(), "tether-bench-quick-"));
    dirs.push(results);
    const run = spawnSync(process.execPath, [entry, "--quick", "--results", results], { encoding: "utf8", timeout: 150_000 });
    expect(run.status, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    // run.ts runs its main() when loaded, so the list comes from its --help, not an import.
    const usage = spawnSync(process.execPath, [entry, "--help"], { encoding: "utf8" }).stdout;
    const names = /^benchmarks: (.*)$/m.exec(usage)?.[1]?.split(", ") ?? [];
    expect(names.length).toBeGreaterThan(5);
    const files = await readdir(results);
    expect(files.map((f) => f.replace(/-\d{4}-\d\d-\d\dT.*$/, "")).sort()).toEqual([...names].sort());
    const skipped: string[] = [];
    for (const file of files) {
      const result = JSON.parse(await readFile(join(results, file), "utf8")) as { name: string; quick: boolean; subjects: Array<{ name: string; skipped?: string }> };
      expect(result.quick).toBe(true);
      for (const s of result.subjects) if (s.skipped) skipped.push(`${result.name} / ${s.name}: ${s.skipped}`);
    }
    if (skipped.length > 0) console.log(`bench --quick skipped:\n  ${skipped.join("\n  ")}`);
    if (process.env.CI === "true") expect(skipped).toEqual([]);
  }, 180_000);
});
