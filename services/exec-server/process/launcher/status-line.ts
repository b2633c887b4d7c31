// The launcher's status protocol (fd 4 of tether-launch.c), one line each:
// "pid N", "error STAGE ERRNO TEXT", "exit code|signal N UTIME_US STIME_US MAXRSS_KB".
import type { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import type { ChildExit } from "../child-exit.js";

export type StatusLine =
  | { kind: "pid"; pid: number }
  | { kind: "error"; stage: string; errno: number; text: string }
  | { kind: "exit"; exit: ChildExit };

/** Status lines are a few dozen bytes; anything longer is a broken launcher. */
const maxStatusLine = 4096;

const signalNames = new Map<number, string>(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

/** "SIGTERM" for 15; "SIG<n>" for numbers Node has no name for (real-time signals). */
export function signalName(signo: number): string {
  return signalNames.get(signo) ?? `SIG${signo}`;
}

/** Parses one status line (without its newline); undefined for anything unknown. */
export function parseStatusLine(line: string): StatusLine | undefined {
  const pid = /^pid (\d+)$/.exec(line);
  if (pid) return { kind: "pid", pid: Number(pid[1]) };
  const error = /^error (\S+) (\d+) ?(.*)$/.exec(line);
  if (error) return { kind: "error", stage: error[1] ?? "", errno: Number(error[2]), text: error[3] ?? "" };
  const exit = /^exit (code|signal) (\d+) (\d+) (\d+) (\d+)$/.exec(line);
  if (!exit) return undefined;
  const n = Number(exit[2]);
  const bySignal = exit[1] === "signal";
  return {
    kind: "exit",
    exit: {
      code: bySignal ? null : n,
      signal: bySignal ? n : null,
      signalName: bySignal ? signalName(n) : "",
      userCpuMs: Number(exit[3]) / 1000,
      systemCpuMs: Number(exit[4]) / 1000,
      maxRssKb: Number(exit[5]),
    },
  };
}

/** Reads the status socket line by line, handing each known line to `onLine`; resolves on its close. */
export function readStatusLines(status: Socket, onLine: (line: StatusLine) => void): Promise<void> {
  const closed = new Promise<void>((resolve) => status.once("close", () => resolve()));
  status.setEncoding("utf8");
  let pending = "";
  status.on("data", (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = parseStatusLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (line) onLine(line);
    }
    if (pending.length > maxStatusLine) pending = "";
  });
  status.resume(); // the zygote's handshake leaves it paused
  return closed;
}
