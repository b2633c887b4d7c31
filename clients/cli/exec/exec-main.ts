// A plain `tether exec [PROMPT]` (or `tether exec resume …`), as bin/tether.js (or entry.ts) runs it: from dist/exec-fast.cjs, one CommonJS
// bundle of what runs before the first model request (scripts/build.mjs), not through the
// code-split CLI (main.ts) — the same command, flags already read by exec-argv.ts.
import { reportError } from "../cli-error.js";
import { quietTlsIpWarning } from "../quiet-tls-ip-warning.js";
import type { LeanExecFlags } from "./exec-argv.js";
import { type ResumeTarget, execCommand } from "./exec-command.js";

/** For bin/tether.js, which reads a plain exec's flags here rather than load dist/tether.cjs first. */
export { parseExecArgv } from "./exec-argv.js";

export async function execMain(prompt: string | undefined, flags: LeanExecFlags, resume?: ResumeTarget): Promise<void> {
  quietTlsIpWarning();
  try {
    process.exitCode = await execCommand(prompt, flags, resume);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
