// `tether exec` opens the thread's local environment only when the model calls a tool: a turn
// that only answers exits without the exec core or its sandbox probe (bubblewrap run twice),
// which cost a no-tool run 7–20 ms at exit. A `bwrap` ahead on PATH records each time it runs
// and hands over to the real one, so the same check sees the probe when a tool is called.
// On an exec server the full client opens at the first tool call too: an environment that
// cannot be opened then still exits 255, as one that cannot be reached at the start does.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecServerProcess } from "../../../test/support/exec-server-process.js";
import { runsEchoThere, startResponsesServer, type Script } from "../../../test/support/responses-server.js";
import { agentCliEnv, runTether } from "../../../test/support/tether-cli.js";

const REAL_BWRAP = ["/usr/bin/bwrap", "/usr/local/bin/bwrap"].find((p) => existsSync(p));

let dir: string;
let work: string;
let bin: string;
let calls: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-exec-lazy-"));
  work = path.join(dir, "work");
  bin = path.join(dir, "bin");
  calls = path.join(dir, "bwrap-calls");
  await mkdir(work);
  await mkdir(bin);
  await writeFile(path.join(bin, "bwrap"), `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${REAL_BWRAP ?? "/nonexistent/bwrap"}' "$@"\n`);
  await chmod(path.join(bin, "bwrap"), 0o755);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function exec(script: Script, flags: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; bwrapRuns: string[] }> {
  await rm(calls, { force: true });
  await using server = await startResponsesServer({ script });
  const env = agentCliEnv(path.join(dir, "home"), server.url, { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` });
  const r = await runTether(["exec", ...flags, "-C", work, "--sandbox", "workspace-write", "go"], { env, cwd: work });
  if (r.code === 0) server.check(); // a failed turn never sent the calls' outputs
  const bwrapRuns = existsSync(calls) ? (await readFile(calls, "utf8")).split("\n").filter((l) => l !== "") : [];
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, bwrapRuns };
}

describe("tether exec's local environment", () => {
  it("is never opened by a turn that calls no tool: no sandbox probe runs", async () => {
    expect(REAL_BWRAP, "bubblewrap is needed: scripts/setup.sh installs it").toBeDefined();
    const r = await exec([[{ type: "message", text: "hi" }]]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.bwrapRuns).toEqual([]);
  });

  it("opens (probing the sandbox) when the model calls a tool", async () => {
    const r = await exec([[{ type: "function_call", name: "exec_command", arguments: { cmd: "true", login: false }, callId: "c1" }], [{ type: "message", text: "done" }]]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.bwrapRuns).toContain("--version");
  });
});

describe("tether exec --env unix://…", () => {
  it("reads AGENTS.md there for the first request, then runs the model's command there", async () => {
    await using server = await startExecServerProcess();
    await writeFile(path.join(work, "AGENTS.md"), "Answer in French.\n");
    const turn = runsEchoThere("ran-there");
    try {
      const r = await exec(turn.script, ["--env", server.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe("ran");
      expect(turn.instructions()).toContain("Answer in French.");
    } finally {
      await rm(path.join(work, "AGENTS.md"), { force: true });
    }
  });
});

describe("tether exec --env unix://… whose exec server is gone by the first tool call", () => {
  it("exits 255 with the opening's error, as an unreachable environment at the start does", async () => {
    const server = await startExecServerProcess();
    try {
      const r = await exec(
        [
          async () => {
            await server.close(); // the thread started (its session open); the full client will find no one
            return [{ type: "function_call", name: "exec_command", arguments: { cmd: "true", login: false }, callId: "c1" }];
          },
        ],
        ["--json", "--env", server.url],
      );
      expect(r.code, r.stderr).toBe(255);
      const lines = r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { type: string; error?: { message: string } });
      expect(lines.at(-1)).toMatchObject({ type: "turn.failed", error: { message: expect.stringContaining(`cannot reach ${server.url}`) as unknown } });
    } finally {
      await server.close();
    }
  });
});
