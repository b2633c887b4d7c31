// `tether run` on an exec server through the lean client, bundled into the entry's file
// (dist/tether.cjs, see scripts/build.mjs): entry.ts comes here only when leanEligible()
// holds, so the Environment path and the sandbox flags, which that file leaves out, are
// never reached.
import { reportError } from "./cli-error.js";
import { type RunFlags, runCommand } from "./run-command.js";

export async function runLean(command: string[], flags: RunFlags): Promise<void> {
  try {
    process.exitCode = await runCommand(command, flags);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
