// `tether exec [PROMPT]` and `tether exec resume`: one turn of the agent without a person —
// CI's runner mode. Progress goes to stderr (or, with --json, Codex-shaped JSONL to stdout and
// nothing else there); approvals are never asked (declined, and the model is told); the exit
// status comes from how the turn ended: 0 completed, 1 failed, 2 usage, 255 unreachable, 141
// stdout's reader went away (`tether exec --json … | head -1`: the turn is interrupted, as a
// SIGPIPE would have stopped a shell tool).
import { statSync } from "node:fs";
import { writeFile } from "../../../services/common/fs-async.js";
import path from "node:path";
import type { AgentClient } from "../../agent/agent-client.js";
import type { ThreadEvent, ThreadInfo } from "../../../services/agent-server/thread/thread-event.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { type AgentFlags, openAgentSession } from "../agent-session.js";
import { TETHER_FAILURE, isUsageError, usageError } from "../cli-error.js";
import { INITIAL_EXEC_MAP_STATE, type ExecMapState, mapEvent } from "./exec-event-mapper.js";
import { formatProgress } from "./human-progress.js";
import { type OutputSchema, enforceOutputSchema, readOutputSchema } from "./output-schema.js";
import { readPrompt } from "./exec-prompt.js";

export interface ExecFlags extends AgentFlags {
  json?: boolean;
  outputLastMessage?: string;
  outputSchema?: string;
}

/** `all`: the most recent thread of any directory (Codex's resume --last --all). */
export type ResumeTarget = { last: true; all?: boolean } | { threadId: string };

/** Exit statuses of `tether exec` (documented in --help and the README). */
const EXEC_EXIT = { completed: 0, failed: 1, usage: 2, unreachable: TETHER_FAILURE, readerGone: 128 + 13 } as const;

const DECLINE_REASON = "tether exec runs without a person: nothing that needs approval may run; find another way or report what you need";

interface Sink {
  json: boolean;
  write(line: string, to: "stdout" | "stderr"): Promise<void>;
}

/** stdout's reader closed the pipe: nothing more can be said there, so the run stops. */
class ReaderGone extends Error {}

function writeLine(stream: NodeJS.WriteStream, line: string, to: "stdout" | "stderr"): Promise<void> {
  // Resolved once written: a slow reader of the JSONL (a pipe into jq) holds the run, nothing is dropped.
  return new Promise((resolve, reject) => {
    stream.write(`${line}\n`, (err) => {
      if (!err) resolve();
      else if ((err as NodeJS.ErrnoException).code !== "EPIPE") reject(err);
      // Progress on stderr is for a person who may have gone; the run goes on without it.
      else if (to === "stderr") resolve();
      else reject(new ReaderGone());
    });
  });
}

function stdSink(json: boolean): Sink {
  // A failed write also emits 'error', which would end the process uncaught: the callback above decides.
  for (const stream of [process.stdout, process.stderr]) if (stream.listenerCount("error") === 0) stream.on("error", () => undefined);
  return { json, write: (line, to) => writeLine(to === "stdout" ? process.stdout : process.stderr, line, to) };
}

export async function execCommand(promptArg: string | undefined, flags: ExecFlags, resume?: ResumeTarget): Promise<number> {
  const sink = stdSink(Boolean(flags.json));
  const prompt = await readPrompt(promptArg);
  if (flags.outputLastMessage) checkOutputFile(flags.outputLastMessage);
  const schema = flags.outputSchema ? await readOutputSchema(flags.outputSchema) : undefined;
  // on-request: sandboxed commands run without asking; what would ask is declined below (no one to ask).
  // A notify program's trouble comes after turn.completed, when the thread is no longer read: stderr says it.
  const notifyWarning = (message: string) => void process.stderr.write(`warning: ${message}\n`);
  const session = await openAgentSession(flags, { approvalPolicy: "on-request", requireModelKey: true, notifyWarning }).catch(async (err: unknown) => {
    const te = TetherError.from(err);
    // An agent server that cannot be reached: in --json, one `error` line says why, as for an environment.
    if (sink.json && !isUsageError(te)) await sink.write(JSON.stringify({ type: "error", message: te.message }), "stdout").catch(() => undefined);
    throw te;
  });
  const client = session.client;
  let info: ThreadInfo;
  try {
    if (!resume) info = await client.startThread(session.thread);
    else {
      const threadId = "threadId" in resume ? resume.threadId : (await client.listThreads({ limit: 1, ...(resume.all ? {} : { cwd: session.thread.cwd }) }))[0]?.threadId;
      if (!threadId) throw usageError(`no thread to resume in ${session.thread.cwd}: start one with tether exec PROMPT`);
      info = await client.resumeThread(threadId, session.overrides);
    }
  } catch (err) {
    await client.close().catch(() => undefined);
    const te = startError(err, resume);
    // The run never started: in --json, one `error` line says why (stdout carries only JSONL).
    if (sink.json && !isUsageError(te)) await sink.write(JSON.stringify({ type: "error", message: te.message }), "stdout").catch(() => undefined);
    throw te;
  }
  try {
    return await runTurn(client, info, prompt, schema, flags, sink);
  } catch (err) {
    if (err instanceof ReaderGone) {
      // No one reads the answer: stop the turn (its processes with it) rather than spend its tokens.
      await client.interrupt(info.threadId).catch(() => undefined);
      return EXEC_EXIT.readerGone;
    }
    // The run broke off (the agent's stream ended, a second Ctrl-C): say so in the JSONL too.
    const te = TetherError.from(err);
    if (sink.json) await sink.write(JSON.stringify({ type: "error", message: te.message }), "stdout").catch(() => undefined);
    throw te;
  } finally {
    await client.close();
  }
}

/** -o's directory must exist: found out now, not after a whole turn (and its tokens) was spent. */
function checkOutputFile(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw usageError(`-o ${file}: the directory ${dir} does not exist: create it first or name another file`);
}

/**
 * Why the thread did not start, as the exit status should say it: what the user named (an
 * `--env` that is not understood, a rule file that does not load, a thread id that is not
 * stored) is a usage error (2), not an unreachable environment (255).
 */
function startError(err: unknown, resume: ResumeTarget | undefined): TetherError {
  const te = TetherError.from(err);
  if (isUsageError(te)) return te;
  if (te.code === ErrorCode.InvalidArgument) return usageError(te.message);
  if (te.code === ErrorCode.NotFound && resume && "threadId" in resume) {
    return usageError(`${te.message}: use the thread_id of thread.started, or tether exec resume --last`);
  }
  return te;
}

async function runTurn(client: AgentClient, info: ThreadInfo, prompt: string, schema: OutputSchema | undefined, flags: ExecFlags, sink: Sink): Promise<number> {
  const stop = new AbortController();
  const events = client.events(info.threadId, { controller: true, signal: stop.signal })[Symbol.asyncIterator]();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      void client.interrupt(info.threadId).catch((err: unknown) => process.stderr.write(`tether: interrupt failed: ${TetherError.from(err).message}\n`));
    } else stop.abort(new TetherError(ErrorCode.Cancelled, "interrupted twice: stopped without waiting for the turn"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let state: ExecMapState = INITIAL_EXEC_MAP_STATE;
  let lastMessage: string | undefined;
  let turnId: string | undefined;
  let outcome: "completed" | "failed" | "unreachable" | undefined;
  const emit = async (event: ThreadEvent) => {
    if (sink.json) {
      const mapped = mapEvent(event, state);
      state = mapped.state;
      for (const e of mapped.events) await sink.write(JSON.stringify(e), "stdout");
    } else {
      for (const line of formatProgress(event)) await sink.write(line, "stderr");
    }
  };
  try {
    // The subscription opens with thread.started: once it is read, nothing of the turn can be missed.
    const first = await events.next();
    if (first.done) throw new TetherError(ErrorCode.Unavailable, "the agent closed the thread's event stream");
    await emit(first.value);
    turnId = (await client.startTurn(info.threadId, { text: prompt, outputSchema: schema?.schema })).turnId;
    for (let next = await events.next(); !next.done; next = await events.next()) {
      let event = next.value;
      if (event.type === "thread.started") continue;
      if (event.type === "item.started" && event.item.type === "approval") {
        await client.respond(info.threadId, event.item.request.requestId, { type: "decline", reason: DECLINE_REASON });
      }
      if (event.type === "item.completed" && event.item.type === "agent_message" && event.turnId === turnId) lastMessage = event.item.text;
      if ((event.type === "turn.completed" || event.type === "turn.failed" || event.type === "turn.interrupted") && event.turnId === turnId) {
        event = enforceOutputSchema(event, lastMessage, schema);
        // A lazily opened environment that could not be opened fails the turn: 255, as when it opens first.
        outcome = event.type === "turn.completed" ? "completed" : event.type === "turn.failed" && event.error.source === "environment" ? "unreachable" : "failed";
        await emit(event);
        break;
      }
      await emit(event);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    stop.abort();
    await events.return?.();
  }
  if (outcome === undefined) throw new TetherError(ErrorCode.Unavailable, "the agent's event stream ended before the turn did");
  if (outcome === "completed") {
    if (flags.outputLastMessage) {
      await writeFile(flags.outputLastMessage, lastMessage ?? "").catch((err: unknown) => {
        throw TetherError.from(err, `-o ${flags.outputLastMessage}`);
      });
    }
    // The answer on stdout in human mode, so `answer=$(tether exec …)` works.
    if (!sink.json && lastMessage !== undefined) await sink.write(lastMessage, "stdout");
    return EXEC_EXIT.completed;
  }
  if (outcome === "unreachable") return EXEC_EXIT.unreachable;
  // Interrupted (SIGINT/SIGTERM) is a turn that did not complete: 1, as documented.
  return EXEC_EXIT.failed;
}
