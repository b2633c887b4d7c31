// The real Codex CLI (pinned) runs its tools through tether's Codex front door: a scripted
// model drives `codex exec --json`, and every tool call travels as Codex's exec-server
// protocol over WebSocket to a tether exec server, which runs it under its own launcher.
// The same script runs against two backends: a tether exec server process on this host,
// and one inside a Docker container (reached through a Unix socket and a loopback bridge).
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCKER_IMAGE } from "../support/backends.js";
import { skipOutsideCi } from "../support/ci-must-run.js";
import { type CodexRun, RUN_DIR, completedItems, requireCodex, runCodex } from "../support/codex-cli.js";
import { type CodexExecServer, startCodexDockerServer, startCodexExecServer } from "../support/codex-exec-server.js";
import { dockerImageExists, ensureDocker } from "../support/dockerd.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { createTestCa } from "../support/test-ca.js";
import { type ScriptRequest, type ScriptResponse, startResponsesServer, toolOutput } from "../support/responses-server.js";

interface CodexBackend {
  name: string;
  inContainer: boolean;
  start(dirs: { share: string; work: string }, token?: string): Promise<CodexExecServer>;
}

const processBackend: CodexBackend = {
  name: "a tether exec server process",
  inContainer: false,
  start: ({ work }, token) => startCodexExecServer({ cwd: work, token }),
};

const dockerBackend: CodexBackend = {
  name: `a tether exec server in a Docker container (${DOCKER_IMAGE})`,
  inContainer: true,
  start: ({ share, work }, token) => startCodexDockerServer({ image: DOCKER_IMAGE, share, cwd: work, token }),
};

async function dockerMissing(): Promise<string | undefined> {
  const docker = await ensureDocker();
  if (!docker.ok) return docker.reason;
  if (!(await dockerImageExists(docker.socketPath, DOCKER_IMAGE))) return `image ${DOCKER_IMAGE} is missing: build it with \`make image\``;
  return undefined;
}

describe.each([
  { backend: processBackend, skip: false },
  { backend: dockerBackend, skip: skipOutsideCi(await dockerMissing(), "Codex through a tether exec server in Docker") },
])("Codex CLI through tether's Codex front door on $backend.name", ({ backend, skip }) => {
  if (skip) return void it.skip("needs Docker", () => {});
  codexSuite(backend);
});

function codexSuite(backend: CodexBackend): void {
  let share: string;
  let work: string;
  let server: CodexExecServer;

  beforeAll(async () => {
    requireCodex();
    await mkdir(RUN_DIR, { recursive: true });
    // One shared directory (bind-mounted at the same path into a container): the workspace, and a
    // sibling outside it for the sandbox case.
    share = await mkdtemp(path.join(RUN_DIR, "codex-e2e-"));
    work = path.join(share, "work");
    await mkdir(work);
    server = await backend.start({ share, work });
  });
  afterAll(async () => {
    await server?.close();
    if (share) await rm(share, { recursive: true, force: true });
  });

  /** Runs a script through Codex with its tools on the tether server; the last response is a message. */
  async function drive(script: ScriptResponse[], opts: { sandbox?: "danger-full-access" | "workspace-write"; cwd?: string } = {}): Promise<{ run: CodexRun; outputs: (callId: string) => string }> {
    await using model = await startResponsesServer({ script: [...script, [{ type: "message", text: "done" }]] });
    const run = await runCodex({ modelUrl: model.url, cwd: opts.cwd ?? work, prompt: "go", execServerUrl: server.wsUrl, sandbox: opts.sandbox });
    expect(run.code, `codex exit; stderr:\n${run.stderr}\nserver:\n${server.stderr()}`).toBe(0);
    model.check();
    const last = model.received.at(-1)!;
    return { run, outputs: (callId) => toolOutput(last, callId) };
  }

    it("runs a command under tether's launcher (the server's List shows it, labelled with Codex's call)", async () => {
      const cmd = "echo hi from codex; cat /proc/sys/kernel/hostname; cat /proc/$PPID/comm";
      const { run, outputs } = await drive([[{ type: "function_call", name: "exec_command", arguments: { cmd, login: false }, callId: "call_echo" }]]);
      expect(outputs("call_echo")).toContain("hi from codex\n");
      const item = completedItems(run, "command_execution")[0]!;
      expect(item).toMatchObject({ exit_code: 0 });
      // On the container backend the command ran in the container's UTS namespace (its own hostname).
      const [, host, parent] = String(item.aggregated_output).split("\n");
      // Its parent is tether's launcher, which holds its process group and relays its exit.
      expect(parent).toBe("tether-launch");
      if (backend.inContainer) expect(host).toMatch(/^[0-9a-f]{12}$/);
      else expect(host).toBe(hostname());
      const env = await server.grpc();
      const listed = await env.processes.list({ allSessions: true, includeExited: true, labels: { "codex.tool_call_id": "call_echo" } });
      expect(listed).toHaveLength(1);
      expect(listed[0]!.spec?.argv.at(-1)).toBe(cmd);
      expect(listed[0]!.spec?.labels["tether.front_door"]).toBe("codex");
    });

    it("runs a long command across yields and polls it with write_stdin until it ends", async () => {
      const { outputs } = await drive([
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "echo started; sleep 1.5; echo finished", login: false, yield_time_ms: 250 }, callId: "call_long" }],
        [(req) => ({ type: "function_call", name: "write_stdin", arguments: { session_id: sessionOf(req, "call_long"), chars: "", yield_time_ms: 10_000 }, callId: "call_poll" })],
      ]);
      expect(outputs("call_long")).toContain("started");
      expect(outputs("call_long")).not.toContain("finished");
      expect(outputs("call_poll")).toContain("finished");
      expect(outputs("call_poll")).toContain("Process exited with code 0");
    });

    it("runs a PTY command: keystrokes go in with write_stdin, ^C ends it", async () => {
      const { outputs } = await drive([
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "tty; exec cat", login: false, tty: true, yield_time_ms: 500 }, callId: "call_pty" }],
        [(req) => ({ type: "function_call", name: "write_stdin", arguments: { session_id: sessionOf(req, "call_pty"), chars: "typed-line\n", yield_time_ms: 500 }, callId: "call_type" })],
        [(req) => ({ type: "function_call", name: "write_stdin", arguments: { session_id: sessionOf(req, "call_pty"), chars: "\u0003", yield_time_ms: 5_000 }, callId: "call_ctrl_c" })],
      ]);
      expect(outputs("call_pty")).toMatch(/\/dev\/pts\/\d+/);
      // The terminal echoes the line, then cat prints it.
      expect(outputs("call_type").split("typed-line").length - 1).toBe(2);
      expect(outputs("call_ctrl_c")).toContain("Process exited with code 130");
    });

    it("delivers a 4 MB output whole: Codex truncates it for the model, the end marker arrives, nothing hangs", async () => {
      const { run, outputs } = await drive([
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "head -c 3000000 /dev/zero | base64; echo END-OF-OUTPUT", login: false, yield_time_ms: 10_000 }, callId: "call_big" }],
      ]);
      const out = outputs("call_big");
      expect(out).toContain("END-OF-OUTPUT");
      // 4,052,632 bytes of base64 and the 14-byte marker: Codex omits exactly what it does with
      // its own exec server (3,004,056 then), so every byte reached it.
      expect(out).toContain("3004070 bytes omitted");
      const item = completedItems(run, "command_execution")[0]!;
      expect(item.exit_code).toBe(0);
      const env = await server.grpc();
      const [info] = await env.processes.list({ allSessions: true, includeExited: true, labels: { "codex.tool_call_id": "call_big" } });
      expect(Number(info!.droppedBytes)).toBe(0);
      expect(info!.exit?.code).toBe(0);
    });

    it("applies patches through the file methods: adds, changes and deletes files", async () => {
      await writeFile(path.join(work, "old.txt"), "keep\nchange me\n");
      await writeFile(path.join(work, "gone.txt"), "bye\n");
      const patch = [
        "*** Begin Patch",
        "*** Add File: added/new.txt",
        "+brand new",
        "*** Update File: old.txt",
        "@@",
        " keep",
        "-change me",
        "+changed",
        "*** Delete File: gone.txt",
        "*** End Patch",
        "",
      ].join("\n");
      const { outputs } = await drive([[{ type: "custom_tool_call", name: "apply_patch", input: patch, callId: "call_patch" }]]);
      expect(outputs("call_patch")).toMatch(/Success|updated/i);
      expect(await readFile(path.join(work, "added/new.txt"), "utf8")).toBe("brand new\n");
      expect(await readFile(path.join(work, "old.txt"), "utf8")).toBe("keep\nchanged\n");
      await expect(stat(path.join(work, "gone.txt"))).rejects.toThrow(/ENOENT/);
    });

    it("reports a failing command's exit code and stderr", async () => {
      const { run, outputs } = await drive([
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "echo oops >&2; exit 3", login: false }, callId: "call_fail" }],
      ]);
      expect(outputs("call_fail")).toContain("oops");
      expect(completedItems(run, "command_execution")[0]).toMatchObject({ exit_code: 3, status: "failed" });
    });

    it("in a workspace-write sandbox, writes inside the workspace and is refused outside it", async () => {
      const outside = await mkdtemp(path.join(share, "outside-"));
      try {
        const cmd = `echo in > inside.txt; echo out > ${outside}/escaped.txt; echo "outside-rc=$?"`;
        const { outputs } = await drive(
          [[{ type: "function_call", name: "exec_command", arguments: { cmd, login: false }, callId: "call_sandboxed" }]],
          { sandbox: "workspace-write" },
        );
        expect(outputs("call_sandboxed")).toMatch(/outside-rc=[1-9]/);
        expect(outputs("call_sandboxed")).toContain("escaped.txt: Read-only file system");
        expect(await readFile(path.join(work, "inside.txt"), "utf8")).toBe("in\n");
        await expect(stat(path.join(outside, "escaped.txt"))).rejects.toThrow(/ENOENT/);
        const env = await server.grpc();
        const [info] = await env.processes.list({ allSessions: true, includeExited: true, labels: { "codex.tool_call_id": "call_sandboxed" } });
        expect(info!.spec?.sandbox?.writableRoots).toContain(work);
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("sends auth_bearer_token as `Authorization: Bearer`, which the tether server requires", async () => {
      await using guarded = await backend.start({ share, work }, "codex-token-123");
      await using model = await startResponsesServer({
        script: [
          [{ type: "function_call", name: "exec_command", arguments: { cmd: "echo through-the-token", login: false }, callId: "call_tok" }],
          [{ type: "message", text: "done" }],
        ],
      });
      const run = await runCodex({ modelUrl: model.url, cwd: work, prompt: "go", environment: { url: guarded.wsUrl, token: "codex-token-123" } });
      expect(run.code, run.stderr).toBe(0);
      expect(toolOutput(model.received.at(-1)!, "call_tok")).toContain("through-the-token");
      const env = await guarded.grpc();
      expect(await env.processes.list({ allSessions: true, includeExited: true, labels: { "codex.tool_call_id": "call_tok" } })).toHaveLength(1);
    });
}

describe("Codex CLI across a dropped connection", () => {
  it("reconnects, resumes its tether session and reads what it missed: the tool output is whole", async () => {
    requireCodex();
    await mkdir(RUN_DIR, { recursive: true });
    const share = await mkdtemp(path.join(RUN_DIR, "codex-cut-"));
    try {
      await using server = await startCodexExecServer({ cwd: share });
      await using proxy = await startTcpProxy({ port: Number(new URL(server.wsUrl).port) });
      const fifo = path.join(share, "go");
      execFileSync("mkfifo", [fifo]);
      const cmd = `echo RECONNECT_ME; read go < ${fifo}; for i in 1 2 3; do echo tick $i; done`;
      await using model = await startResponsesServer({
        script: [
          [{ type: "function_call", name: "exec_command", arguments: { cmd, login: false, yield_time_ms: 20_000 }, callId: "call_cut" }],
          [{ type: "message", text: "done" }],
        ],
      });
      const running = runCodex({ modelUrl: model.url, cwd: share, prompt: "go", execServerUrl: `ws://127.0.0.1:${proxy.port}` });
      // Opening the FIFO for writing waits until the command opened it: the command is running.
      const go = await open(fifo, "w");
      // Cut only once its first output went down (after the process/start answer on the same
      // socket): a cut before Codex has the answer makes Codex fail the call ("transport
      // disconnected"), which is Codex's behaviour, not a resume.
      await proxy.waitForTextDown(Buffer.from("RECONNECT_ME\n").toString("base64"));
      expect(proxy.cut()).toBe(1);
      await go.write("go\n");
      await go.close();
      const run = await running;
      expect(run.code, run.stderr).toBe(0);
      const out = toolOutput(model.received.at(-1)!, "call_cut");
      expect(out).toContain("Process exited with code 0");
      expect(out).toMatch(/RECONNECT_ME\ntick 1\ntick 2\ntick 3\n/);
      expect(proxy.accepted).toBeGreaterThanOrEqual(2);
      // One process: Codex resumed its session and read on; it did not run the command again.
      const env = await server.grpc();
      expect(await env.processes.list({ allSessions: true, includeExited: true, labels: { "codex.tool_call_id": "call_cut" } })).toHaveLength(1);
    } finally {
      await rm(share, { recursive: true, force: true });
    }
  });
});

describe("Codex CLI over wss://", () => {
  it("runs its tools over TLS with a bearer token (Codex trusts the private CA named by SSL_CERT_FILE)", async () => {
    requireCodex();
    await mkdir(RUN_DIR, { recursive: true });
    const share = await mkdtemp(path.join(RUN_DIR, "codex-tls-"));
    try {
      const ca = await createTestCa(path.join(share, "ca"), ["127.0.0.1", "localhost"]);
      await using server = await startCodexExecServer({ cwd: share, listen: "wss://127.0.0.1:0", token: "tls-token", args: ["--tls-cert", ca.serverCert, "--tls-key", ca.serverKey] });
      await using model = await startResponsesServer({
        script: [[{ type: "function_call", name: "exec_command", arguments: { cmd: "echo over-tls", login: false }, callId: "call_tls" }], [{ type: "message", text: "done" }]],
      });
      const url = server.wsUrl.replace("127.0.0.1", "localhost");
      expect(url).toMatch(/^wss:\/\/localhost:\d+$/);
      const run = await runCodex({ modelUrl: model.url, cwd: share, prompt: "go", environment: { url, token: "tls-token" }, env: { SSL_CERT_FILE: ca.caCert } });
      expect(run.code, run.stderr).toBe(0);
      expect(toolOutput(model.received.at(-1)!, "call_tls")).toContain("over-tls");
    } finally {
      await rm(share, { recursive: true, force: true });
    }
  });
});

/** The unified-exec session id Codex gave the model for a still-running command. */
function sessionOf(req: ScriptRequest, callId: string): number {
  const m = /session ID (\d+)/i.exec(toolOutput(req, callId));
  if (!m) throw new Error(`call ${callId} left no running session: ${toolOutput(req, callId).slice(0, 400)}`);
  return Number(m[1]);
}
