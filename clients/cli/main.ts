// The `tether` command. A plain `tether run` (the start-up path that must cost little more
// than node itself) is read by run-argv.ts and goes straight to run-command.ts; everything
// else, help and errors included, goes through commander (program.ts).
import { reportError } from "./cli-error.js";
import { parseRunArgv } from "./run-argv.js";

export async function main(argv: string[]): Promise<void> {
  const run = parseRunArgv(argv.slice(2));
  if (!run) {
    await (await import("./program.js")).runProgram(argv);
    return;
  }
  // Likely the lean client (run-command decides): load it alongside run-command, not after.
  if (/^(unix|grpcs?):\/\//.test(run.flags.env)) import("./lean-run.js").catch(() => undefined);
  try {
    process.exitCode = await (await import("./run-command.js")).runCommand(run.command, run.flags);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
