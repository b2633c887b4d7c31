// tether exec keeps zod off the path to its first model request (issue 15: loading it cost
// ≈ 25 ms of CPU there): the tools' JSON schemas are generated (tool-parameters.gen.ts), their
// parsers load once the request is out, and a config.toml that config-quick-check.ts is sure of
// needs no schema. A preloaded hook lists the files node had loaded when the first HTTP request
// started; the turn then runs tool calls, so the lazily loaded parsers are exercised too.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startResponsesServer, toolOutput } from "../support/responses-server.js";
import { runTether } from "../support/tether-cli.js";

const HOOK = `const fs = require("node:fs");
const dc = require("node:diagnostics_channel");
const { registerHooks } = require("node:module");
const seen = [];
let done = false;
registerHooks({ load(url, context, next) { if (!done && url.startsWith("file:")) seen.push(url); return next(url, context); } });
dc.subscribe("http.client.request.start", () => { if (done) return; done = true; fs.writeFileSync(process.env.TETHER_TEST_LOADED, seen.join("\\n")); });
`;

/** A typical user config (Codex's keys and spellings). */
const CONFIG_TOML = `model = "gpt-5.5"
approval_policy = "never"
sandbox_mode = "danger-full-access"
model_reasoning_effort = "low"
[features]
plan_tool = true
[history]
max_entries = 1000
[profiles.fast]
model = "gpt-5.5-mini"
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-exec-zod-"));
  await mkdir(path.join(dir, "work", ".git"), { recursive: true });
  await writeFile(path.join(dir, "hook.cjs"), HOOK);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The files loaded before the first model request that hold zod (its package, or a dist chunk with its code). */
async function zodFilesBeforeFirstRequest(loadedList: string): Promise<string[]> {
  const urls = (await readFile(loadedList, "utf8")).split("\n").filter((u) => u !== "");
  // The hook saw the process load: at least bin/tether.js (a plain exec runs dist/exec-fast.cjs from there, with vm.Script).
  expect(urls.length).toBeGreaterThanOrEqual(1);
  const zod: string[] = [];
  for (const url of urls) {
    const file = new URL(url).pathname;
    if (file.includes("/node_modules/zod/") || (await readFile(file, "utf8")).includes("ZodError")) zod.push(file);
  }
  return zod;
}

describe("tether exec start-up", () => {
  for (const withConfig of [false, true]) {
    it(`loads no zod before its first model request (${withConfig ? "with a typical config.toml" : "no config.toml"}); tool calls still parse and report bad arguments`, async () => {
      const home = path.join(dir, withConfig ? "home-config" : "home");
      await mkdir(home, { recursive: true });
      if (withConfig) await writeFile(path.join(home, "config.toml"), CONFIG_TOML);
      const loaded = path.join(dir, `loaded-${String(withConfig)}.txt`);
      await using server = await startResponsesServer({
        script: [
          [{ type: "function_call", name: "update_plan", arguments: { plan: [{ step: "", status: "later" }] }, callId: "bad" }],
          [{ type: "function_call", name: "exec_command", arguments: { cmd: "echo made", login: false }, callId: "c1" }],
          [(req) => ({ type: "message", text: `bad: ${toolOutput(req, "bad")} | c1: ${toolOutput(req, "c1").includes("made") ? "made" : "?"}` })],
        ],
      });
      const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", NODE_OPTIONS: `--require ${path.join(dir, "hook.cjs")}`, TETHER_TEST_LOADED: loaded };
      for (const name of ["TETHER_PROFILE", "TETHER_MODEL", "TETHER_SANDBOX", "TETHER_APPROVAL_POLICY", "TETHER_LOG", "TETHER_AGENT", "TETHER_ENV"]) delete env[name];
      const r = await runTether(["exec", "-C", path.join(dir, "work"), ...(withConfig ? [] : ["--sandbox", "workspace-write"]), "go"], { env, cwd: path.join(dir, "work") });
      expect(r.code, r.stderr).toBe(0);
      expect(await zodFilesBeforeFirstRequest(loaded)).toEqual([]);
      expect(r.stdout).toMatch(/bad: invalid arguments for update_plan: plan\.0\.step: .*; plan\.0\.status: .* \| c1: made/);
    });
  }
});
