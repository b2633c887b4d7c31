// exec_command (Codex's name and argument shape): ask policy, start the command through the
// Environment in the thread's sandbox, and answer with the output once it exits or the yield
// time passes, with a session id when it is still running. A sandboxed run that the sandbox
// refused may be run again without it if policy allows (on-failure).
import path from "node:path";
import { OverflowPolicy } from "../../../common/wire-enums.js";
import type { ProcessSpecInit } from "../../../../clients/environment/environment.js";
import { commandEnvironment, type ShellEnvironmentPolicy } from "./command-env.js";
import { TetherError } from "../../../common/tether-error.js";
import { truncateMiddle } from "../head-tail-buffer.js";
import type { ToolContext, ToolDefinition, ToolResult } from "../tool.js";
import { TOOL_PARAMETERS } from "../tool-parameters.gen.js";
import { runApplyPatch } from "../apply-patch/apply-patch-tool.js";
import { type Collected, collectOrExplain } from "./collect-output.js";
import type { ExecCommandInput } from "./exec-command-input.js";
import { itemExited, itemFailed, itemOutput, itemYielded, newItem } from "./exec-item.js";
import { clampMs, execResult, outputBudgetBytes } from "./exec-output.js";
import { FULL_ACCESS, type SandboxPolicyInit, denialDetail, isSandboxed, looksLikeSandboxDenial, sandboxPolicyFor } from "./exec-sandbox.js";
import { patchFromCommand } from "./intercept-apply-patch.js";
import type { OpenItem, UnifiedExecSessions } from "./unified-exec-sessions.js";

const EXEC_YIELD = { default: 10_000, min: 250, max: 30_000 } as const;
/** Output the exec server keeps per process for later yields (oldest dropped first, with a gap). */
export const RETAINED_OUTPUT_BYTES = 1 << 20;
const TTY_SIZE = { rows: 24, cols: 80 };
export function execCommandTool(sessions: UnifiedExecSessions, shellEnvironment?: ShellEnvironmentPolicy): ToolDefinition<ExecCommandInput> {
  const environment = commandEnvironment(shellEnvironment);
  return {
    name: "exec_command",
    description: "Runs a shell command, returning its output, or a session ID to continue with write_stdin while it keeps running.",
    input: { parameters: TOOL_PARAMETERS.exec_command, load: async () => (await import("./exec-command-input.js")).execCommandInput },
    mutating: true,
    run: (args, ctx) => runExecCommand(sessions, args, ctx, environment),
  };
}

async function runExecCommand(sessions: UnifiedExecSessions, args: ExecCommandInput, ctx: ToolContext, environment: Pick<ProcessSpecInit, "env" | "envPolicy">): Promise<ToolResult> {
  const cwd = path.posix.resolve(ctx.cwd, args.workdir ?? ".");
  const shellPatch = patchFromCommand(args.cmd);
  if (shellPatch !== undefined) return runApplyPatch(shellPatch.patch, { ...ctx, cwd: path.posix.resolve(cwd, shellPatch.dir ?? ".") });
  const argv = [args.shell ?? "bash", (args.login ?? true) ? "-lc" : "-c", args.cmd];
  const escalated = args.sandbox_permissions === "require_escalated";
  const auth = await ctx.authorize({ kind: "command", commandLine: args.cmd, argv, cwd, escalated, ...(args.justification === undefined ? {} : { justification: args.justification }) });
  ctx.signal.throwIfAborted();
  const startedAt = sessions.now();
  const item = newItem(ctx, args.cmd, cwd, startedAt);
  if (!auth.allowed) {
    const message = `The command was not run: ${auth.by === "user" ? "the user declined it" : `declined by ${auth.by}`}: ${auth.reason}`;
    itemFailed(item, message, "declined");
    return { output: message, success: false };
  }
  const notes: string[] = [];
  const ended = await sessions.makeRoom();
  if (ended.length > 0) notes.push(`Note: ended session ${ended.join(", ")} (least recently used) to stay within ${sessions.maxSessions} running sessions.`);
  const run = { sessions, ctx, args, argv, cwd, item, startedAt, environment };
  const policy = sandboxPolicyFor(ctx.sandbox, ctx.writableRoots, auth.unsandboxed, ctx.proxyHosts?.());
  let result = await startAndCollect(run, sessions.processIdFor(ctx.callId), policy);
  if ("error" in result) return fail(item, result.error);
  if (result.collected.exit !== undefined && isSandboxed(policy) && looksLikeSandboxDenial(result.collected.exit, result.collected.text)) {
    const failure = truncateMiddle(denialDetail(result.collected.exit, result.collected.text), 2000);
    const retry = await ctx.authorize({ kind: "retry_unsandboxed", commandLine: args.cmd, argv, cwd, failure });
    ctx.signal.throwIfAborted();
    if (retry.allowed) {
      const note = "\n[the sandbox refused this command; running it again without the sandbox]\n";
      itemOutput(item, Buffer.from(note), note);
      notes.push("Note: the sandbox refused the first run; the command was run again without the sandbox (approved).");
      result = await startAndCollect(run, sessions.processIdFor(ctx.callId, ".unsandboxed"), FULL_ACCESS);
      if ("error" in result) return fail(item, result.error);
    }
  }
  const { collected, sessionId } = result;
  if (collected.exit !== undefined) itemExited(item, collected.exit, sessions.now());
  else itemYielded(item, sessionId);
  return execResult({ wallMs: sessions.now() - startedAt, collected, sessionId, notes });
}

interface Run {
  sessions: UnifiedExecSessions;
  ctx: ToolContext;
  args: ExecCommandInput;
  argv: string[];
  cwd: string;
  item: OpenItem;
  startedAt: number;
  /** What the process inherits and gets set (config's shell_environment_policy). */
  environment: Pick<ProcessSpecInit, "env" | "envPolicy">;
}

/** Starts the process and waits one yield; a process that exited is forgotten at once. */
async function startAndCollect(run: Run, processId: string, sandbox: SandboxPolicyInit): Promise<{ collected: Collected; sessionId: number } | { error: string }> {
  const { sessions, ctx, args, environment } = run;
  const tty = args.tty ?? false;
  const spec: ProcessSpecInit = {
    argv: run.argv,
    cwd: run.cwd,
    ...environment,
    ...(tty ? { tty: TTY_SIZE } : {}),
    stdinOpen: tty,
    sandbox,
    output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: BigInt(RETAINED_OUTPUT_BYTES) },
    labels: sessions.labels(ctx.turnId, ctx.callId),
  };
  // The session's reader attaches right behind Start rather than after its answer: one round trip less.
  const start = ctx.env.processes.start(processId, spec, { signal: ctx.signal });
  const session = sessions.add({ processId, turnId: ctx.turnId, callId: ctx.callId, command: args.cmd, cwd: run.cwd, tty, startedAt: run.startedAt, item: run.item }, start.then(() => true, () => false));
  try {
    await start;
  } catch (err) {
    // Still held (inCall): the reader leaves the item to the failure reported below.
    sessions.remove(session);
    session.output.stop();
    await session.output.done;
    if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
    return { error: `exec_command could not start the command: ${TetherError.from(err).message}` };
  }
  const yieldMs = clampMs(args.yield_time_ms, EXEC_YIELD.default, EXEC_YIELD.min, EXEC_YIELD.max);
  try {
    const collected = await sessions.exclusive(session, () => collectOrExplain(sessions, session, ctx, yieldMs, outputBudgetBytes(args.max_output_tokens)));
    if ("error" in collected) return collected;
    if (collected.exit !== undefined) sessions.remove(session);
    return { collected, sessionId: session.id };
  } finally {
    // From here the reader completes the item when the process exits (unless the caller
    // already did, or runs it again unsandboxed on the same item).
    session.inCall = false;
  }
}

function fail(item: OpenItem, message: string): ToolResult {
  itemFailed(item, message, "failed");
  return { output: message, success: false };
}
