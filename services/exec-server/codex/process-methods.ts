// Codex's process/* methods onto ExecCore: start (client-chosen id, owned by the
// connection's session), read (an Attach cursor), write (idempotent by writeId), signal,
// terminate. A process of another session is "unknown" here, as if it did not exist.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ManagedProcess } from "../process/managed-process.js";
import { toProcessSpec } from "./codex-process-spec.js";
import { isSandboxed, toSandboxPolicy } from "./codex-sandbox.js";
import {
  ReadParams,
  type ReadResult,
  SignalParams,
  StartParams,
  TerminateParams,
  WriteParams,
  type WriteStatus,
  parseParams,
} from "./codex-wire.js";
import { type Handler, type HandlerContext, Reply } from "./handler-context.js";
import { exitCodeOf } from "./output-pump.js";
import { DenialWatch } from "./sandbox-denial.js";

/**
 * process/read: bytes per answer when the client names no budget, and the longest wait. A
 * resumed client reads what it missed once (maxBytes null) while pushes go on from where the
 * log was at the resume: the answer takes all of it, so nothing falls between the two.
 */
const READ_DEFAULT_BYTES = 32 << 20;
const READ_MAX_WAIT_MS = 60_000;

/** The session's process by id; a start still in flight is waited for (a client may pipeline). */
async function owned(ctx: HandlerContext, processId: string): Promise<ManagedProcess | undefined> {
  let p: ManagedProcess;
  try {
    p = await ctx.core.startedProcess(processId);
  } catch (err) {
    if (err instanceof TetherError && err.code === ErrorCode.NotFound) return undefined;
    throw err;
  }
  return p.sessionId === ctx.sessionId ? p : undefined;
}

function unknownProcess(processId: string): TetherError {
  return new TetherError(ErrorCode.NotFound, `no process ${JSON.stringify(processId.slice(0, 140))} in this session: it never started here or exited too long ago`);
}

const start: Handler = async (raw, ctx) => {
  const p = parseParams("process/start", StartParams, raw);
  const sandbox = toSandboxPolicy(p.sandbox, { cwd: p.cwd, tmpdir: process.env.TMPDIR });
  const spec = toProcessSpec(p, sandbox);
  const { process: proc } = await ctx.core.startProcess(p.processId, spec, { sessionId: ctx.sessionId, signal: ctx.signal });
  const sandboxed = isSandboxed(sandbox, ctx.core.defaultMode !== "full-access");
  return new Reply({ processId: p.processId, sandboxType: sandboxed ? "linuxSeccomp" : "none" }, () => ctx.follow(proc, 0));
};

const read: Handler = async (raw, ctx) => {
  const p = parseParams("process/read", ReadParams, raw);
  const proc = await owned(ctx, p.processId);
  if (!proc) throw unknownProcess(p.processId);
  const after = p.afterSeq ?? 0;
  const budget = p.maxBytes ?? READ_DEFAULT_BYTES;
  const result: ReadResult = { chunks: [], nextSeq: after + 1, exited: false, exitCode: null, closed: false, failure: null, sandboxDenied: false };
  const exitSeq = () => (proc.running ? undefined : proc.log.lastSeq);
  const denial = new DenialWatch(isSandboxed(proc.spec.sandbox, ctx.core.defaultMode !== "full-access"));
  const markExited = (seq: number) => {
    result.exited = result.closed = true;
    result.exitCode = proc.exitStatus ? exitCodeOf(proc.exitStatus) : null;
    result.sandboxDenied = proc.exitStatus ? denial.denied(proc.exitStatus) : false;
    // `closed` is exit seq + 1 on the wire; a client that saw it may read after it.
    result.nextSeq = seq + 2;
  };
  const finished = exitSeq();
  if (finished !== undefined && after >= finished) {
    if (after > finished + 1) throw new TetherError(ErrorCode.OutOfRange, `afterSeq ${after} is beyond the last event (seq ${finished + 1}) of this process`);
    markExited(finished);
    return result;
  }
  // Wait for the first event only when there is none yet; then take what is there.
  const waitMs = Math.min(p.waitMs ?? 0, READ_MAX_WAIT_MS);
  if (proc.log.lastSeq <= after && waitMs === 0) return result;
  const reader = new AbortController();
  const stop = () => reader.abort();
  ctx.signal.addEventListener("abort", stop, { once: true });
  const timer = proc.log.lastSeq <= after ? setTimeout(stop, waitMs) : undefined;
  let bytes = 0;
  try {
    for await (const item of proc.log.read({ afterSeq: after, signal: reader.signal })) {
      clearTimeout(timer);
      if (item.kind === "exit") {
        markExited(item.seq);
        break;
      }
      if (item.kind !== "output") break;
      denial.see(item.data);
      result.chunks.push({ seq: item.seq, stream: item.stream, chunk: Buffer.from(item.data).toString("base64") });
      result.nextSeq = item.seq + 1;
      bytes += item.data.byteLength;
      // Everything that was there is taken: do not wait for more.
      if (bytes >= budget || item.seq >= proc.log.lastSeq) break;
    }
  } catch (err) {
    if (!reader.signal.aborted) throw err;
    // The wait ran out (or the connection went): answer with what there is.
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", stop);
  }
  return result;
};

const write: Handler = async (raw, ctx) => {
  const p = parseParams("process/write", WriteParams, raw);
  const proc = await owned(ctx, p.processId);
  if (!proc) return { status: "unknownProcess" satisfies WriteStatus };
  try {
    // Codex counts writeIds per process ("1", "2", …): a retry after a cut is applied once.
    await ctx.core.writeStdin(proc.id, p.writeId ? `codex-${p.writeId}` : "", Buffer.from(p.chunk, "base64"), false, ctx.signal);
  } catch (err) {
    if (err instanceof TetherError && err.code === ErrorCode.FailedPrecondition) return { status: "stdinClosed" satisfies WriteStatus };
    throw err;
  }
  return { status: "accepted" satisfies WriteStatus };
};

const signal: Handler = async (raw, ctx) => {
  const p = parseParams("process/signal", SignalParams, raw);
  const proc = await owned(ctx, p.processId);
  if (!proc) throw unknownProcess(p.processId);
  // Interrupt is what a terminal's ^C does: SIGINT to the whole foreground group.
  ctx.core.signalProcess(proc.id, "INT", "group");
  return {};
};

const terminate: Handler = async (raw, ctx) => {
  const p = parseParams("process/terminate", TerminateParams, raw);
  const proc = await owned(ctx, p.processId);
  if (!proc?.running) return { running: false };
  // TERM to the group, KILL after the server's grace; the exit arrives as notifications.
  ctx.core.terminateProcess(proc.id, 0).catch(() => {
    // The process is gone either way (it exited, or the server is closing and kills it).
  });
  return { running: true };
};

export const processMethods: Record<string, Handler> = {
  "process/start": start,
  "process/read": read,
  "process/write": write,
  "process/signal": signal,
  "process/terminate": terminate,
};
