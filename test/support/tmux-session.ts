// A real terminal for interactive tests: a private tmux server (its own socket) running one
// command in a window of a fixed size; keys go in with send-keys, the screen comes back with
// capture-pane. waitFor() polls the screen, bounded, and fails naming what it waited for.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TmuxSession extends AsyncDisposable {
  /** tmux key names ("Enter", "C-c", "Up") or literal text with { literal: true }. */
  send(keys: string[], options?: { literal?: boolean }): Promise<void>;
  /** Pastes text as a terminal paste (bracketed when the program asked for it). */
  paste(text: string): Promise<void>;
  screen(): Promise<string>;
  /** Polls the screen until `test` holds (every 50 ms, at most `timeoutMs`). */
  waitFor(test: RegExp | ((screen: string) => boolean), what: string, timeoutMs?: number): Promise<string>;
  resize(columns: number, rows: number): Promise<void>;
  /** Whether the command in the window has ended. */
  exited(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startTmux(command: string[], options: { env: Record<string, string>; cwd: string; columns?: number; rows?: number }): Promise<TmuxSession> {
  const dir = await mkdtemp(path.join(tmpdir(), "tether-tmux-"));
  const socket = path.join(dir, "tmux.sock");
  const tmux = (...args: string[]) => run("tmux", ["-S", socket, "-f", "/dev/null", ...args], { maxBuffer: 8 << 20 });
  const envArgs = Object.entries(options.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const quoted = command.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(" ");
  // remain-on-exit keeps the pane (and its last screen) after the command ends.
  await tmux("new-session", "-d", "-s", "t", "-x", String(options.columns ?? 100), "-y", String(options.rows ?? 30), "-c", options.cwd, ...envArgs, `${quoted}; echo "[exited $?]"; sleep 600`);
  await tmux("set-option", "-t", "t", "remain-on-exit", "on");
  const screen = async () => (await tmux("capture-pane", "-p", "-t", "t")).stdout;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await tmux("kill-server").catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  return {
    send: async (keys, opts) => void (await tmux("send-keys", "-t", "t", ...(opts?.literal ? ["-l"] : []), ...keys)),
    paste: async (text) => {
      await tmux("set-buffer", "-b", "p", text);
      await tmux("paste-buffer", "-p", "-b", "p", "-t", "t");
    },
    screen,
    async waitFor(test, what, timeoutMs = 20_000) {
      const ok = typeof test === "function" ? test : (s: string) => test.test(s);
      let last = "";
      for (let waited = 0; waited < timeoutMs; waited += 50) {
        last = await screen();
        if (ok(last)) return last;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen was:\n${last}`);
    },
    resize: async (columns, rows) => void (await tmux("resize-window", "-t", "t", "-x", String(columns), "-y", String(rows))),
    exited: async () => /\[exited \d+\]/.test(await screen()),
    close,
    [Symbol.asyncDispose]: close,
  };
}
