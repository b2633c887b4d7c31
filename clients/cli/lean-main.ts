// `tether run` on an exec server through the lean client, bundled into the entry's file
// (dist/tether.cjs, see scripts/build.mjs): entry.ts comes here only when leanEligible()
// holds, so the Environment path and the sandbox flags, which that file leaves out, are
// never reached.
import { reportError } from "./cli-error.js";
import { type RunFlags, runCommand } from "./run-command.js";
import { stdinIsDevNull } from "./stdin-null.js";

/** True once the command's exit status came back (false: the run failed, reported). */
export async function runLean(command: string[], flags: RunFlags): Promise<boolean> {
  const run = runCommand(command, flags);
  // Node makes process.stdin/stdout/stderr on first use, a few milliseconds of work that the
  // run needs only once the command has started: do it while the server starts it instead.
  // An immediate runs after node has written what the first tick queued (Start and Attach
  // right behind OpenSession, on a socket that connected meanwhile), so it delays none of it.
  // Not stdin when it is /dev/null: the run never reads it then (run-command.ts).
  setImmediate(() => void (stdinIsDevNull() ? [process.stdout, process.stderr] : [process.stdin, process.stdout, process.stderr]));
  try {
    process.exitCode = await run;
    return true;
  } catch (err) {
    process.exitCode = reportError(err);
    return false;
  }
}
