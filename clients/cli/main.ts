// The full `tether` command (dist/main.js), for whatever entry.ts does not run on the lean
// path. A plain `tether run` (on the Environment path: local, docker, zsh-fork, sandbox
// flags) is read by run-argv.ts and goes straight to run-command.ts, a plain `tether exec
// [PROMPT]` by exec/exec-argv.ts straight to exec-command.ts; everything else, help and errors
// included, goes through commander (program.ts).
import { reportError } from "./cli-error.js";
import { parseRunArgv } from "./run-argv.js";
import { parseExecArgv } from "./exec/exec-argv.js";
import { quietTlsIpWarning } from "./quiet-tls-ip-warning.js";

export async function main(argv: string[]): Promise<void> {
  quietTlsIpWarning();
  const run = parseRunArgv(argv.slice(2));
  // TETHER_LEAN=0: commander reads exec's flags too (to compare).
  const exec = run || process.env.TETHER_LEAN === "0" ? undefined : parseExecArgv(argv.slice(2));
  if (!run && !exec) {
    await (await import("./program.js")).runProgram(argv);
    return;
  }
  try {
    if (run) process.exitCode = await (await import("./run-command.js")).runCommand(run.command, run.flags);
    else if (exec) process.exitCode = await (await import("./exec/exec-command.js")).execCommand(exec.prompt, exec.flags);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
