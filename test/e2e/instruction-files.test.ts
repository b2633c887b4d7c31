// Codex's instruction files through the real CLI against a scripted Responses server:
// AGENTS.override.md (in the project and in $TETHER_HOME, Codex's ~/.codex) and config.toml
// project_doc_fallback_filenames reach the first model request (both were ignored).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ResponsesServer, startResponsesServer } from "../support/responses-server.js";
import { agentCliEnv, runTether } from "../support/tether-cli.js";

let dir: string;
let server: ResponsesServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-instruction-files-"));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `tether exec hi` in `cwd` with `home` as TETHER_HOME; the first request's instructions. */
async function firstInstructions(home: string, cwd: string): Promise<{ instructions: string; stderr: string }> {
  server = await startResponsesServer({ script: [[{ type: "message", text: "ok" }]] });
  const env = agentCliEnv(home, server.url);
  const r = await runTether(["exec", "hi"], { env, cwd });
  expect(r.code, r.stderr).toBe(0);
  expect(server.requests.length).toBeGreaterThan(0);
  return { instructions: String(server.requests[0]!.instructions), stderr: r.stderr };
}

describe("AGENTS.override.md, as Codex reads it", () => {
  it("is sent instead of AGENTS.md, in the project and in $TETHER_HOME", async () => {
    const home = path.join(dir, "override-home");
    const work = path.join(dir, "override-work");
    await mkdir(home, { recursive: true });
    await mkdir(path.join(work, ".git"), { recursive: true });
    await writeFile(path.join(home, "AGENTS.md"), "Personal rule: answer in French.\n");
    await writeFile(path.join(home, "AGENTS.override.md"), "Personal override: answer in German.\n");
    await writeFile(path.join(work, "AGENTS.md"), "Project rule: run make test.\n");
    await writeFile(path.join(work, "AGENTS.override.md"), "Project override: run make quick.\n");
    const { instructions } = await firstInstructions(home, work);
    expect(instructions).toMatch(/Personal override: answer in German\.[\s\S]*Project override: run make quick\./);
    expect(instructions).toContain(`# Project instructions from ${path.join(work, "AGENTS.override.md")}`);
    expect(instructions).not.toContain("French");
    expect(instructions).not.toContain("make test");
  });
});

describe("config.toml project_doc_fallback_filenames (Codex's key; was ignored with a warning)", () => {
  it("sends the first fallback found where a directory has no AGENTS.md, and AGENTS.md where it has one", async () => {
    const home = path.join(dir, "fallback-home");
    const work = path.join(dir, "fallback-work");
    await mkdir(home, { recursive: true });
    await mkdir(path.join(work, ".git"), { recursive: true });
    await mkdir(path.join(work, "pkg"), { recursive: true });
    await writeFile(path.join(home, "config.toml"), 'project_doc_fallback_filenames = ["CLAUDE.md", ".agents.md"]\n');
    await writeFile(path.join(work, "AGENTS.md"), "Root rule: use pnpm.\n");
    await writeFile(path.join(work, "CLAUDE.md"), "Root claude: not sent, AGENTS.md is here.\n");
    await writeFile(path.join(work, "pkg", "CLAUDE.md"), "Pkg claude: tests beside the code.\n");
    await writeFile(path.join(work, "pkg", ".agents.md"), "Pkg dot-agents: not sent, CLAUDE.md comes first.\n");
    const { instructions, stderr } = await firstInstructions(home, path.join(work, "pkg"));
    expect(stderr).not.toMatch(/project_doc_fallback_filenames/);
    expect(instructions).toMatch(/Root rule: use pnpm\.[\s\S]*Pkg claude: tests beside the code\./);
    expect(instructions).not.toContain("not sent");
  });
});
