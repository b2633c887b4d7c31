// Runs the real Codex CLI (pinned in package.json) as `codex exec --json` against a scripted
// Responses server, with its tools going through an exec server: CODEX_EXEC_SERVER_URL, or
// $CODEX_HOME/environments.toml when a bearer token must travel. CODEX_HOME lives under
// .tether-run/ (Codex refuses to install its sandbox helper under /tmp).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT, VISIBLE_RUN_DIR } from "./exec-server-process.js";

export const CODEX_BIN = path.join(REPO_ROOT, "node_modules/.bin/codex");
/** Where Codex's homes and workspaces go (not under /tmp: see VISIBLE_RUN_DIR). */
export const RUN_DIR = VISIBLE_RUN_DIR;

export interface CodexRunOptions {
  /** The scripted Responses server (…/v1). */
  modelUrl: string;
  cwd: string;
  prompt: string;
  /** ws:// of the exec server, via CODEX_EXEC_SERVER_URL; omitted: Codex runs tools itself. */
  execServerUrl?: string;
  /** Instead of the variable: environments.toml naming this URL and token. */
  environment?: { url: string; token?: string };
  sandbox?: "danger-full-access" | "workspace-write" | "read-only";
  /** More environment for Codex (e.g. SSL_CERT_FILE to trust a private CA). */
  env?: NodeJS.ProcessEnv;
  /** Kill the run after this long (a wrong answer makes Codex retry for minutes). */
  timeoutMs?: number;
}

export interface CodexRun {
  code: number | null;
  events: Record<string, unknown>[];
  stderr: string;
  /** The run's CODEX_HOME (removed when the run ends). */
  home: string;
}

/** Fails the test (or, outside CI, too: the CLI is a dev dependency) when Codex is missing. */
export function requireCodex(): void {
  if (!existsSync(CODEX_BIN)) throw new Error(`the Codex CLI is not installed at ${CODEX_BIN}: run npm install (it is pinned in package.json)`);
}

export async function runCodex(options: CodexRunOptions): Promise<CodexRun> {
  await mkdir(RUN_DIR, { recursive: true });
  const home = await mkdtemp(path.join(RUN_DIR, "codex-home-"));
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, CODEX_HOME: home, OPENAI_API_KEY: "sk-scripted" };
  delete env.CODEX_EXEC_SERVER_URL;
  if (options.execServerUrl) env.CODEX_EXEC_SERVER_URL = options.execServerUrl;
  if (options.environment) {
    const lines = ['default = "tether"', "include_local = false", "", "[[environments]]", 'id = "tether"', `url = "${options.environment.url}"`];
    if (options.environment.token) lines.push(`auth_bearer_token = "${options.environment.token}"`);
    await writeFile(path.join(home, "environments.toml"), `${lines.join("\n")}\n`);
  }
  const sandbox = options.sandbox ?? "danger-full-access";
  const args = [
    "exec", "--json", "--skip-git-repo-check",
    "-s", sandbox,
    "-c", 'approval_policy="never"',
    "-m", "gpt-5.5",
    "-c", "model_provider=scripted",
    "-c", 'model_providers.scripted.name="scripted"',
    "-c", `model_providers.scripted.base_url="${options.modelUrl}"`,
    "-c", 'model_providers.scripted.wire_api="responses"',
    "-c", 'model_providers.scripted.env_key="OPENAI_API_KEY"',
    "-C", options.cwd,
    options.prompt,
  ];
  try {
    return await spawnCodex(args, options, env, home);
  } finally {
    // Only what this run made: .tether-run holds other things (image contexts, other runs).
    await rm(home, { recursive: true, force: true });
  }
}

async function spawnCodex(args: string[], options: CodexRunOptions, env: NodeJS.ProcessEnv, home: string): Promise<CodexRun> {
  const child = spawn(CODEX_BIN, args, { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  const events = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, events, stderr, home };
}

/** The completed items of one kind, in order. */
export function completedItems(run: CodexRun, type: string): Record<string, unknown>[] {
  return run.events
    .filter((e) => e.type === "item.completed")
    .map((e) => e.item as Record<string, unknown>)
    .filter((i) => i.type === type);
}
