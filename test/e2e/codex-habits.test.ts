// What a Codex user does with tether, end to end: the real `tether` process, the agent in it,
// a real scripted Responses server on loopback and the real sandbox. Each case is a habit
// `codex` accepts that tether broke or refused without saying what to do instead.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ResponsesServer, type Script, startResponsesServer, toolOutput } from "../support/responses-server.js";
import { agentCliEnv, runTether } from "../support/tether-cli.js";

let dir: string;
let work: string;
let server: ResponsesServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-codex-habits-"));
  work = path.join(dir, "work");
  await mkdir(work);
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tether(script: Script, args: string[], options: { input?: string; home?: string; env?: NodeJS.ProcessEnv } = {}) {
  server ??= await startResponsesServer({ script });
  const env = agentCliEnv(options.home ?? path.join(dir, "home"), server.url, options.env);
  return runTether(args, { env, input: options.input, cwd: work });
}

describe("commands the shell expands at run time (no rules that ask or forbid)", () => {
  // Codex runs such a line in the sandbox under on-request and never; tether asked, so
  // `tether exec` declined `echo $(…)`, loops, `&` and `VAR=1 cmd`.
  it.each([["the default policy", []], ["approval_policy never", ["-c", 'approval_policy="never"']]])(
    "run sandboxed under %s",
    async (_name, flags) => {
      const line = "for w in a b; do echo $w; done > loop.txt; echo $(cat loop.txt | wc -l) & wait";
      const r = await tether(
        [
          [{ type: "function_call", name: "exec_command", arguments: { cmd: line, login: false }, callId: "c1" }],
          [(req) => ({ type: "message", text: toolOutput(req, "c1") })],
        ],
        ["exec", "--json", ...flags, "count"],
      );
      expect(r.code, r.stderr).toBe(0);
      const done = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; item?: Record<string, unknown> });
      expect(done.find((e) => e.type === "item.completed")?.item).toMatchObject({ type: "command_execution", status: "completed", exit_code: 0, aggregated_output: "2\n" });
      expect(await readFile(path.join(work, "loop.txt"), "utf8")).toBe("a\nb\n");
      await rm(path.join(work, "loop.txt"));
    },
  );
});

describe("Codex's top-level spellings", () => {
  it("tether PROMPT without a terminal names the exec line to use; tether e is tether exec", async () => {
    const e = await tether([[{ type: "message", text: "via the alias" }]], ["e", "hi"]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toBe("via the alias\n");
    const r = await tether([], ["explain this codebase"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('use tether exec "explain this codebase"');
  });

  it("a Codex command tether lacks says what to do instead (was: a prompt, or 'unknown command')", async () => {
    const login = await tether([], ["login"]);
    expect(login.code).toBe(2);
    expect(login.stderr).toMatch(/Codex command tether does not have: .*OPENAI_API_KEY/);
    const mcp = await tether([], ["mcp", "list"]);
    expect(mcp.code).toBe(2);
    expect(mcp.stderr).toMatch(/tether does not manage MCP servers/);
  });
});

describe("config.toml [shell_environment_policy] (Codex's key; was ignored with a warning)", () => {
  it("drops excluded names (any case), sets variables, and refuses include_only rather than ignore it", async () => {
    const home = path.join(dir, "env-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "config.toml"), '[shell_environment_policy]\ninherit = "all"\nexclude = ["*secret*", "AWS_*"]\nset = { GREETING = "hello" }\n');
    const line = 'echo "secret=${MY_SECRET_TOKEN:-gone} aws=${AWS_PROFILE:-gone} kept=$KEPT_VAR greeting=$GREETING"';
    const r = await tether(
      [
        [{ type: "function_call", name: "exec_command", arguments: { cmd: line, login: false }, callId: "c1" }],
        [(req) => ({ type: "message", text: toolOutput(req, "c1") })],
      ],
      ["exec", "show"],
      { home, env: { MY_SECRET_TOKEN: "s3cr3t", AWS_PROFILE: "prod", KEPT_VAR: "kept" } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("secret=gone aws=gone kept=kept greeting=hello");
    expect(r.stderr).not.toMatch(/unknown key shell_environment_policy/);

    await writeFile(path.join(home, "config.toml"), '[shell_environment_policy]\ninclude_only = ["PATH"]\n');
    const refused = await tether([], ["exec", "show"], { home });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/include_only.*not supported by tether: use inherit = "core"/);
  });
});

describe("Codex's exec flags", () => {
  it("flags before the command apply to it (tether -m o3 exec; were dropped), -a sets the approval policy, --color is taken", async () => {
    const r = await tether(
      [
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "touch asked.txt", login: false }, callId: "c1" }],
        [(req) => ({ type: "message", text: toolOutput(req, "c1") })],
      ],
      ["-m", "o3", "exec", "--color", "never", "-a", "untrusted", "make a file"],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(server!.requests[0]!.model).toBe("o3");
    // untrusted asks before `touch`, and tether exec declines what would be asked.
    expect(r.stdout).toMatch(/not run/);
    await expect(readFile(path.join(work, "asked.txt"))).rejects.toThrow(/ENOENT/);
  });

  it("a Codex flag tether lacks says what to do instead", async () => {
    const oss = await tether([], ["exec", "--oss", "hi"]);
    expect(oss.code).toBe(2);
    expect(oss.stderr).toMatch(/--oss is a Codex flag tether does not have: .*OPENAI_BASE_URL/);
    const image = await tether([], ["exec", "-i", "shot.png", "hi"]);
    expect(image.code).toBe(2);
    expect(image.stderr).toMatch(/-i is a Codex flag tether does not have: tether's turns are text only/);
  });
});

describe("tether exec --ephemeral (Codex's; was rejected)", () => {
  it("runs the turn and keeps no rollout anywhere; resume says it cannot", async () => {
    const home = path.join(dir, "ephemeral-home");
    const tmp = path.join(dir, "ephemeral-tmp");
    await mkdir(tmp, { recursive: true });
    const r = await tether([[{ type: "message", text: "gone after" }]], ["exec", "--json", "--ephemeral", "hi"], { home, env: { TMPDIR: tmp } });
    expect(r.code, r.stderr).toBe(0);
    const threadId = (JSON.parse(r.stdout.split("\n")[0]!) as { thread_id: string }).thread_id;
    expect(threadId).toMatch(/^thread_/);
    expect(r.stdout).toContain("gone after");
    const kept = await readdir(path.join(home, "sessions")).catch(() => [] as string[]);
    expect(kept.filter((n) => n.includes(threadId))).toEqual([]);
    expect((await readdir(tmp)).filter((n) => n.startsWith("tether-"))).toEqual([]);
    const resumed = await tether([], ["exec", "resume", "--ephemeral", "--last", "again"], { home });
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toMatch(/--ephemeral keeps no thread, so it cannot resume one/);
  });
});

describe("config.toml [model_providers] keys Codex users set for Azure and proxies (were ignored)", () => {
  it("sends query_params, http_headers and env_http_headers with every request", async () => {
    server = await startResponsesServer({ script: [[{ type: "message", text: "from azure" }]] });
    const home = path.join(dir, "provider-home");
    await mkdir(home, { recursive: true });
    await writeFile(
      path.join(home, "config.toml"),
      [
        'model_provider = "azure"',
        "[model_providers.azure]",
        `base_url = "${server.url}"`,
        'env_key = "AZURE_OPENAI_API_KEY"',
        'query_params = { "api-version" = "2025-04-01-preview" }',
        'http_headers = { "X-Team" = "qa" }',
        'env_http_headers = { "X-From-Env" = "QA_HEADER", "X-Unset" = "QA_NOT_SET" }',
        "request_max_retries = 2",
        "",
      ].join("\n"),
    );
    const r = await tether([], ["exec", "hi"], { home, env: { AZURE_OPENAI_API_KEY: "az-key", QA_HEADER: "from-env" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("from azure\n");
    expect(r.stderr).not.toMatch(/unknown key/);
    const sent = server.received[0]!;
    expect(new URLSearchParams(sent.query).get("api-version")).toBe("2025-04-01-preview");
    expect(sent.headers).toMatchObject({ "x-team": "qa", "x-from-env": "from-env", authorization: "Bearer az-key" });
    expect(sent.headers["x-unset"]).toBeUndefined();
  });
});

describe("a response the model cut short (response.incomplete)", () => {
  it("fails the turn as Codex does (was: turn.completed, exit 0, the cut answer written by -o)", async () => {
    const out = path.join(dir, "cut.txt");
    const r = await tether([[{ type: "message", text: "the first half of" }, { type: "incomplete", reason: "max_output_tokens" }]], ["exec", "--json", "-o", out, "write a lot"]);
    expect(r.code).toBe(1);
    const events = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; error?: { message: string } });
    expect(events.map((e) => e.type).slice(-2)).toEqual(["error", "turn.failed"]);
    expect(events.at(-1)?.error?.message).toMatch(/incomplete \(max_output_tokens\)/);
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });
});

describe("tether exec resume --last --all (Codex's --all; was rejected)", () => {
  it("takes the most recent thread of any directory; without --all only this one's", async () => {
    const home = path.join(dir, "all-home");
    const elsewhere = path.join(dir, "elsewhere");
    await mkdir(elsewhere, { recursive: true });
    const first = await tether([[{ type: "message", text: "first here" }], [{ type: "message", text: "resumed from elsewhere" }]], ["exec", "remember the word pelican"], { home });
    expect(first.code, first.stderr).toBe(0);
    const none = await tether([], ["exec", "-C", elsewhere, "resume", "--last", "again"], { home });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no thread to resume in/);
    const all = await tether([], ["exec", "-C", elsewhere, "resume", "--last", "--all", "what was the word?"], { home });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe("resumed from elsewhere\n");
    expect(JSON.stringify(server!.requests[1])).toContain("pelican");
  });
});

describe("$TETHER_HOME/AGENTS.md, as Codex reads ~/.codex/AGENTS.md (was not read)", () => {
  it("reaches the model's instructions before the project's AGENTS.md", async () => {
    const home = path.join(dir, "personal-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "AGENTS.md"), "Personal rule: sign every answer with a heron.\n");
    await writeFile(path.join(work, "AGENTS.md"), "Project rule: run make test.\n");
    try {
      const r = await tether([[{ type: "message", text: "ok" }]], ["exec", "hi"], { home });
      expect(r.code, r.stderr).toBe(0);
      const instructions = String(server!.requests[0]!.instructions);
      expect(instructions).toMatch(/Personal rule: sign every answer with a heron\.[\s\S]*Project rule: run make test\./);
    } finally {
      await rm(path.join(work, "AGENTS.md"));
    }
  });
});

describe("config.toml project_doc_max_bytes (Codex's key; was ignored)", () => {
  it("caps the AGENTS.md text sent to the model", async () => {
    const home = path.join(dir, "docmax-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "config.toml"), "project_doc_max_bytes = 10\n");
    await writeFile(path.join(work, "AGENTS.md"), "0123456789ABCDEFGHIJ\n");
    try {
      const r = await tether([[{ type: "message", text: "ok" }]], ["exec", "hi"], { home });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/project_doc_max_bytes/);
      const instructions = String(server!.requests[0]!.instructions);
      expect(instructions).toContain("0123456789");
      expect(instructions).not.toContain("ABCDEFGHIJ");
      expect(instructions).toMatch(/capped at 10 bytes/);
    } finally {
      await rm(path.join(work, "AGENTS.md"));
    }
  });
});

describe("a provider defined with several -c flags, as Codex's docs and scripts do (was refused: each -c checked alone lacked base_url)", () => {
  it("runs against it", async () => {
    server = await startResponsesServer({ script: [[{ type: "message", text: "via -c provider" }]] });
    const r = await tether([], [
      "exec",
      "-c", "model_provider=scripted",
      "-c", 'model_providers.scripted.name="scripted"',
      "-c", `model_providers.scripted.base_url="${server.url}"`,
      "-c", 'model_providers.scripted.wire_api="responses"',
      "-c", 'model_providers.scripted.env_key="SCRIPTED_KEY"',
      "hi",
    ], { env: { SCRIPTED_KEY: "k-scripted" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("via -c provider\n");
    expect(server.received[0]!.headers.authorization).toBe("Bearer k-scripted");
  });
});

describe("--strict-config (Codex's; was rejected)", () => {
  it("stops at a config key tether does not use; without it the run goes on with a warning", async () => {
    const home = path.join(dir, "strict-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "config.toml"), 'modle = "typo"\nfile_opener = "vscode"\n');
    const strict = await tether([], ["exec", "--strict-config", "hi"], { home });
    expect(strict.code).toBe(2);
    expect(strict.stderr).toMatch(/--strict-config: .*unknown key modle.*Codex settings tether does not use \(ignored\): file_opener/);
    await server?.close();
    server = undefined;
    const lenient = await tether([[{ type: "message", text: "fine" }]], ["exec", "hi"], { home });
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(lenient.stderr).toMatch(/warning: .*unknown key modle/);
  });
});

describe("a repository's own .tether/config.toml (Codex ignores an untrusted project's .codex/config.toml)", () => {
  it("is not used until the user trusts the project in the home config", async () => {
    const home = path.join(dir, "trust-home");
    await mkdir(path.join(work, ".tether"), { recursive: true });
    await writeFile(path.join(work, ".tether", "config.toml"), 'model = "repo-model"\nsandbox_mode = "danger-full-access"\napproval_policy = "never"\n');
    try {
      const r = await tether([[{ type: "message", text: "a" }], [{ type: "message", text: "b" }]], ["exec", "hi"], { home });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/\.tether\/config\.toml is not used: this project is not trusted/);
      expect(r.stderr).toMatch(/sandbox workspace-write/);
      expect(server!.requests[0]!.model).toBe("gpt-5.5");
      await mkdir(home, { recursive: true });
      await writeFile(path.join(home, "config.toml"), `[projects."${work}"]\ntrust_level = "trusted"\n`);
      const trusted = await tether([], ["exec", "hi"], { home });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(server!.requests[1]!.model).toBe("repo-model");
    } finally {
      await rm(path.join(work, ".tether"), { recursive: true, force: true });
    }
  });
});

describe("tether help [COMMAND] (as codex help)", () => {
  it("prints the help (was: taken for a prompt)", async () => {
    const top = await tether([], ["help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: tether \[options\] \[command\]/);
    const exec = await tether([], ["help", "exec"]);
    expect(exec.code).toBe(0);
    expect(exec.stdout).toMatch(/^Usage: tether exec(\|e)? \[options\]/);
    expect((await tether([], ["help", "nope"])).code).toBe(2);
  });
});
