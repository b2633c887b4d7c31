// The `tether` command's entry point (bundled with the lean run into dist/tether.cjs, see
// scripts/build.mjs): a plain `tether run` on an exec server runs from that one file, since
// each further file node loads costs start-up time; a plain `tether exec [PROMPT]` from
// dist/exec-fast.cjs (exec-main.ts); everything else, help and command-line errors included,
// goes to the full CLI (main.ts, code split into dist/).
import { enableCompileCache } from "node:module";
import { parseExecArgv } from "./exec/exec-argv.js";
import { leanEligible, parseRunArgv } from "./run-argv.js";

let leanRan = false;

/**
 * Whether this process ran a command through the lean client to its exit status: bin/tether.js
 * makes dist/tether.cjs's code cache only after such a run, so that the cache holds the
 * run path's functions (a run that failed to connect, or `tether run --help`, would not).
 */
export function leanRunEnded(): boolean {
  return leanRan;
}

export async function main(argv: string[]): Promise<void> {
  const run = parseRunArgv(argv.slice(2));
  // A plain `tether exec [PROMPT]` (TETHER_LEAN=0: commander reads it, to compare).
  const exec = run || process.env.TETHER_LEAN === "0" ? undefined : parseExecArgv(argv.slice(2));
  if (run && leanEligible(run.flags)) leanRan = await (await import("./lean-main.js")).runLean(run.command, run.flags);
  else if (exec) {
    // Before the bundle loads, so its code comes from the cache too (see below).
    enableCompileCache();
    await (await import("./exec/exec-main.js")).execMain(exec.prompt, exec.flags, exec.resume);
  } else {
    // V8's code cache for the full CLI's chunks (NODE_COMPILE_CACHE names the directory, else
    // Node's default under the temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off). `tether
    // exec` compiles about 2.5 MB of bundle, grpc-js and the agent: CPU to the first model
    // request 278 → 230 ms in a same-run A/B (issue 15). The lean run gained nothing from it.
    enableCompileCache();
    await (await import("./main.js")).main(argv);
  }
}
