// `tether agent-server` as a real child process (the built CLI), for end-to-end tests that
// kill and restart the agent: resolves once it printed `listening <url>`.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { TETHER_BIN, ensureBuilt } from "./exec-server-process.js";

export interface AgentServerProcess {
  url: string;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
  close(): Promise<void>;
}

export async function startAgentServerProcess(options: { listen: string; env: NodeJS.ProcessEnv; args?: string[] }): Promise<AgentServerProcess> {
  ensureBuilt();
  const child = spawn(process.execPath, [TETHER_BIN, "agent-server", "--listen", options.listen, "--log-level", "warn", ...(options.args ?? [])], {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env,
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-16_384);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", (line) => {
      const m = /^listening (\S+)$/.exec(line);
      if (m) resolve(m[1]!);
      else reject(new TetherError(ErrorCode.Internal, `agent-server printed ${JSON.stringify(line)} instead of "listening <url>"`));
    });
    void exited.then(() => reject(new TetherError(ErrorCode.Unavailable, `agent-server exited before listening: ${stderr.trim() || "(no stderr)"}`)));
  }).catch(async (err: unknown) => {
    child.kill("SIGKILL");
    await exited;
    throw err;
  });
  return {
    url,
    pid: child.pid!,
    exited,
    stderr: () => stderr,
    kill: (signal) => void child.kill(signal),
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
