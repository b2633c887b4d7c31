import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessState } from "../../../gen/tether/exec/v1/process_pb.js";
import type { Environment } from "../../../clients/environment/environment.js";
import { LocalEnvironment } from "../../../clients/environment/local-environment.js";
import { fakeToolContext } from "../../../test/support/fake-tool-context.js";
import { defaultThreadTools } from "./thread-tools.js";

let env: Environment;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-thread-tools-"));
  env = await LocalEnvironment.create({ defaultCwd: dir });
});
afterAll(async () => {
  await env?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("defaultThreadTools", () => {
  it("offers the default specs, runs calls, and ends a turn's processes", async () => {
    const tools = defaultThreadTools({ env, threadId: "th-1" }, { yieldTimer: async () => {} });
    expect(tools.specs.map((s) => s.name)).toEqual(["exec_command", "write_stdin", "apply_patch", "update_plan"]);
    const ctx = fakeToolContext({ env, cwd: dir, threadId: "th-1", turnId: "turn-9" });
    const r = await tools.run({ name: "exec_command", arguments: JSON.stringify({ cmd: "sleep 60", login: false }), callId: ctx.callId }, ctx);
    expect(r.output).toMatch(/Process running with session ID 1000/);
    const running = async () => (await env.processes.list({ labels: { "tether.thread": "th-1" } })).filter((p) => p.state === ProcessState.RUNNING);
    expect(await running()).toHaveLength(1);
    await tools.terminateTurn("turn-9");
    expect(await running()).toEqual([]);
    const unknown = await tools.run({ name: "nope", arguments: "{}", callId: "x" }, ctx);
    expect(unknown.success).toBe(false);
    await tools.closeAll();
  });
});
