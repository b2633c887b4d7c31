// A Codex `process/start` as a tether ProcessSpec. Output is kept with BLOCK (the server's
// retention, nothing dropped: Codex's client stalls on a gap in seq). What Codex asks that
// tether cannot do (an argv0 override, include-only env lists, its managed network proxy)
// is refused with a message, not silently ignored.
import { create } from "@bufbuild/protobuf";
import { EnvInherit, OverflowPolicy, type ProcessSpec, ProcessSpecSchema, ShellMode } from "../../../gen/tether/exec/v1/process_pb.js";
import type { SandboxPolicy } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { StartParams } from "./codex-wire.js";

/** Codex's PTY size when it gives none (it never resizes in `codex exec`). */
const CODEX_TTY = { rows: 24, cols: 80 };

/** Codex's default env excludes (matched case-insensitively there; tether globs are case-sensitive). */
const DEFAULT_EXCLUDES = ["*KEY*", "*SECRET*", "*TOKEN*"];

/** Labels marking a process started through this front door (visible to List). */
const FRONT_DOOR_LABEL = "tether.front_door";

const INHERIT: Record<"all" | "core" | "none", EnvInherit> = {
  all: EnvInherit.ALL,
  core: EnvInherit.CORE,
  none: EnvInherit.NONE,
};

export function toProcessSpec(p: StartParams, sandbox: SandboxPolicy | undefined): ProcessSpec {
  if (p.arg0 != null) unsupportedThrow("arg0 (an argv[0] override) is not supported by tether: send argv without it");
  if (p.enforceManagedNetwork || p.managedNetwork != null) {
    unsupportedThrow("Codex's managed network proxy is not available on tether: use network restricted or enabled");
  }
  const policy = p.envPolicy;
  if (policy && policy.includeOnly.length > 0) {
    unsupportedThrow("envPolicy.includeOnly is not supported by tether: use inherit core or none plus set");
  }
  const exclude = [...(policy?.exclude ?? [])];
  if (policy && !policy.ignoreDefaultExcludes) {
    for (const glob of DEFAULT_EXCLUDES) exclude.push(glob, glob.toLowerCase());
  }
  const labels: Record<string, string> = { [FRONT_DOOR_LABEL]: "codex" };
  if (p.metadata?.threadId) labels["codex.thread_id"] = p.metadata.threadId;
  if (p.metadata?.toolCallId) labels["codex.tool_call_id"] = p.metadata.toolCallId;
  return create(ProcessSpecSchema, {
    argv: p.argv,
    cwd: p.cwd,
    env: { ...policy?.set, ...p.env },
    envPolicy: { inherit: policy ? INHERIT[policy.inherit] : EnvInherit.ALL, exclude },
    tty: p.tty ? CODEX_TTY : undefined,
    // A PTY's input is its terminal: Codex writes keystrokes to it (`write_stdin`).
    stdinOpen: p.tty || (p.pipeStdin ?? false),
    shell: ShellMode.DIRECT,
    sandbox,
    output: { overflow: OverflowPolicy.BLOCK },
    labels,
  });
}

/** Something Codex asked that tether cannot do: refused, never ignored. */
function unsupportedThrow(message: string): never {
  throw new TetherError(ErrorCode.Unimplemented, `process/start: ${message}`);
}
