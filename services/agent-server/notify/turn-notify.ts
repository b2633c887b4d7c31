// Codex's `notify`: a program (and its arguments) run after each completed turn, with one more
// argument, a JSON object describing the turn (Codex's UserNotification, kebab-case keys).
// Loaded by a dynamic import at a turn's end only when `notify` is set, never before a first
// model request. The run is bounded: stdin is /dev/null, output is dropped, and a program still
// running after NOTIFY_TIMEOUT_MS is killed with its process group, so nothing outlives it.
import { spawn } from "node:child_process";
import type { ThreadItem } from "../thread/thread-event.js";

export const NOTIFY_TIMEOUT_MS = 10_000;

/** What Codex passes as the last argument (the same keys, in the same order). */
export interface TurnNotification {
  type: "agent-turn-complete";
  "thread-id": string;
  "turn-id": string;
  cwd: string;
  /** The user's messages of the turn: its input, then any steering. */
  "input-messages": string[];
  /** The last agent message of the turn; null when it had none (as Codex's serde writes None). */
  "last-assistant-message": string | null;
}

export function turnNotification(turn: { threadId: string; turnId: string; cwd: string; items: readonly ThreadItem[] }): TurnNotification {
  const said = turn.items.filter((i) => i.type === "agent_message");
  return {
    type: "agent-turn-complete",
    "thread-id": turn.threadId,
    "turn-id": turn.turnId,
    cwd: turn.cwd,
    "input-messages": turn.items.flatMap((i) => (i.type === "user_message" ? [i.text] : [])),
    "last-assistant-message": said.at(-1)?.text ?? null,
  };
}

/**
 * Runs the program once; resolves when it has exited (or was killed at the timeout). Resolves
 * with a warning when it could not be started (a missing program): never rejects.
 */
export function runNotify(command: readonly string[], payload: TurnNotification, options: { timeoutMs?: number } = {}): Promise<string | undefined> {
  const [program, ...args] = command;
  if (program === undefined || program === "") return Promise.resolve("notify: the program to run is empty (notify = [\"program\", \"arg\", …])");
  return new Promise((resolve) => {
    // detached: its own process group, so the timeout ends whatever it started too.
    const child = spawn(program, [...args, JSON.stringify(payload)], { stdio: "ignore", detached: true });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL"); // the group is gone already
      }
    }, options.timeoutMs ?? NOTIFY_TIMEOUT_MS);
    timer.unref();
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(`notify: could not run ${program}: ${err.code === "ENOENT" ? "no such program (give its path, or put it on PATH)" : err.message}`);
    });
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}
