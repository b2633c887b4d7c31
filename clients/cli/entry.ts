// The `tether` command's entry point (bundled with the lean run into dist/tether.cjs, see
// scripts/build.mjs): a plain `tether run` on an exec server runs from that one file, since
// each further file node loads costs start-up time; everything else, help and command-line
// errors included, goes to the full CLI (main.ts, code split into dist/).
import { leanEligible, parseRunArgv } from "./run-argv.js";

export async function main(argv: string[]): Promise<void> {
  const run = parseRunArgv(argv.slice(2));
  if (run && leanEligible(run.flags)) await (await import("./lean-main.js")).runLean(run.command, run.flags);
  else await (await import("./main.js")).main(argv);
}
