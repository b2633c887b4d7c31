// The `tether` command's entry point (dist/tether.js), kept to this file and run-argv.ts: a
// plain `tether run` on an exec server goes to lean-main.ts, bundled alone into one file
// with the lean client, since each further file node loads costs start-up time; everything
// else, help and command-line errors included, goes to the full CLI (main.ts).
import { leanEligible, parseRunArgv } from "./run-argv.js";

export async function main(argv: string[]): Promise<void> {
  const run = parseRunArgv(argv.slice(2));
  if (run && leanEligible(run.flags)) await (await import("./lean-main.js")).runLean(run.command, run.flags);
  else await (await import("./main.js")).main(argv);
}
