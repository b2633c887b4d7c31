// Opens one thread: its environment (the thread's exec session, reattached on resume, with
// the thread's sandbox as default), its tools (taking back the long-lived processes the
// rollout recorded) and policy, and the Thread itself. AgentCore keeps the result.
import type { Environment } from "../../clients/environment/environment.js";
import { type NetworkTarget, describeTarget, parseEnvTarget } from "../../clients/environment/env-target.js";
import { LazyEnvironment } from "../../clients/environment/lazy-environment.js";
import { TetherError, throwIfAborted } from "../common/tether-error.js";
import type { AgentCoreOptions } from "./agent-core.js";
import {
  DEFAULT_EXEC_DETACHED_TTL_MS,
  type OpenEnvironmentRequest,
  canReattach,
  openEarlyThreadSession,
  openThreadEnvironment,
  sessionSandboxFor,
} from "./thread-environment.js";
import type { SavedExecSessions } from "./thread/rollout-record.js";
import type { RolloutWriter } from "./thread/rollout-writer.js";
import { type LiveTurn, Thread } from "./thread/thread.js";
import type { ThreadInfo } from "./thread/thread-event.js";
import type { ThreadInit } from "./thread/thread-init.js";
import type { ThreadPolicy, ThreadSetup } from "./thread/thread-services.js";
import type { ProposedAction } from "./policy/approval-types.js";

/** What a thread is opened with beyond its info. */
export interface OpenState {
  execSessionId: string;
  writableRoots: string[];
  /** Resuming: the unified-exec sessions to take back. */
  saved?: SavedExecSessions;
  /** Resuming an exec session that may already exist: its default sandbox is set again. */
  reattach: boolean;
  /** Resuming: what "accept for the session" granted while the thread's exec session lived. */
  sessionGrants?: ProposedAction[];
}

export interface OpenThreadDeps {
  options: AgentCoreOptions;
  newId: (prefix: string) => string;
  now: () => Date;
  noteThread: (info: ThreadInfo) => Promise<void>;
  onTurnCompleted?: ThreadInit["onTurnCompleted"];
}

export async function openThread(deps: OpenThreadDeps, info: ThreadInfo, writer: RolloutWriter, turns: LiveTurn[], state: OpenState, opts: { signal?: AbortSignal }): Promise<Thread> {
const o = deps.options;
  let env: Environment | undefined;
  let settle: { resolve: (t: Thread) => void; reject: (e: unknown) => void } | undefined;
  const built = { promise: new Promise<Thread>((resolve, reject) => (settle = { resolve, reject })), resolve: (t: Thread) => settle?.resolve(t), reject: (e: unknown) => settle?.reject(e) };
  try {
    throwIfAborted(opts.signal);
    const roots = [info.cwd, ...state.writableRoots.filter((r) => r !== info.cwd)];
    const defaultSandbox = sessionSandboxFor(info.sandbox, roots);
    const request: OpenEnvironmentRequest = {
      target: info.environment,
      cwd: info.cwd,
      sandbox: info.sandbox,
      threadId: info.threadId,
      execSessionId: state.execSessionId,
      detachedTtlMs: o.detachedTtlMs ?? DEFAULT_EXEC_DETACHED_TTL_MS,
      defaultSandbox,
    };
    const open = async (signal: AbortSignal | undefined): Promise<Environment> => {
      const opened = await (o.openEnvironment ? o.openEnvironment(request, { signal }) : openThreadEnvironment(request, o.environmentCredentials));
      try {
        // A session that outlived the agent keeps the sandbox it was opened with: the thread's may have changed since.
        if (state.reattach && canReattach(info.environment)) await opened.session.setSandbox(defaultSandbox, { signal });
      } catch (err) {
        await opened.close().catch(() => undefined);
        throw err;
      }
      return opened;
    };
    // Lazily: the first model request goes out before the exec core (or any exec client) is
    // loaded, and the opening starts once it is out. A local target: its AGENTS.md is read with
    // node:fs, and opening it reaches nothing that could be unreachable. A new session on an exec
    // server, by the default opener (with its credentials, if any): it opens now on the lean client
    // (early-session.ts), concurrently with the thread's tools and policy, AGENTS.md is read
    // through it, and the thread starts only once it is open, so an unreachable server still
    // fails the thread's start. Never when something must be taken back from the session first
    // (a resumed remote thread); a resumed local one has nothing to take back.
    const kind = targetKind(info.environment);
    const fresh = o.lazyEnvironment === true && state.saved === undefined;
    // A local environment is new at every opening (nothing of it outlives its process), so a
    // resumed local thread opens lazily too: its processes from before are gone either way.
    const lazyLocal = o.lazyEnvironment === true && kind === "local";
    const lazyRemote = fresh && !state.reattach && o.openEnvironment === undefined && (kind === "unix" || kind === "grpc" || kind === "grpcs");
    const early = lazyRemote ? openEarlyThreadSession(request, { signal: opts.signal, credentials: o.environmentCredentials }) : undefined;
    built.promise.catch(() => undefined); // rejected only when the thread is not made: nothing waits then
    env =
      lazyLocal || lazyRemote
        ? new LazyEnvironment({
            kind,
            description: kind === "local" ? "this process (local)" : describeTarget(parseEnvTarget(info.environment) as NetworkTarget),
            sessionId: state.execSessionId,
            ...(early ? { early } : {}),
            open: async () => {
              // Outlives startThread's call: no signal of it. The lean client: grpc-js costs more to load than it saves.
              const opened = early ? await openThreadEnvironment(request, o.environmentCredentials, { transport: "lean" }) : await open(undefined);
              try {
                // An opening the thread's own set-up started waits for the thread: it attaches first.
                await (await built.promise).attachEscalations(opened);
              } catch (err) {
                await opened.close().catch(() => undefined);
                throw err;
              }
              return opened;
            },
          })
        : await open(opts.signal);
    const journal = {
      running: (session: Parameters<NonNullable<ThreadSetup["journal"]>["running"]>[0]) => writer.append({ t: "exec", session }),
      closed: (sessionId: number) => writer.append({ t: "exec_closed", sessionId }),
    };
    const setup: ThreadSetup = { threadId: info.threadId, cwd: info.cwd, env, sandbox: info.sandbox, writableRoots: roots, journal };
    const instructions = o.instructions ?? (async () => "");
    // Read once: stable instructions keep the server's prompt cache warm, and AGENTS.md is
    // not re-read (over the network for a remote cwd) before every model request.
    let threadInstructions: Promise<string> | undefined;
    const threadEnv = env;
    const readInstructions = () =>
      (threadInstructions ??= instructions(info.cwd, threadEnv).catch((err: unknown) => {
        threadInstructions = undefined; // a failed read is retried by the next request
        throw err;
      }));
    // A lazy environment's AGENTS.md is read at once (an early session's round trips, or node:fs),
    // overlapping the thread's set-up; a failure is met again (and reported) by the first request.
    if (env instanceof LazyEnvironment) void readInstructions().catch(() => undefined);
    const tools = await o.services.tools(setup);
    const policy = await o.services.policy(setup);
    restoreSessionGrants(env, policy, writer, state);
    const thread = new Thread({
      info,
      env,
      tools,
      policy,
      model: o.model,
      writer,
      turns,
      writableRoots: setup.writableRoots,
      sessionSandbox: sessionSandboxFor,
      instructions: readInstructions,
      ...(o.reasoning ? { reasoning: o.reasoning } : {}),
      newId: deps.newId,
      now: deps.now,
      onTurnEnd: deps.noteThread,
      ...(deps.onTurnCompleted ? { onTurnCompleted: deps.onTurnCompleted } : {}),
      maxQueuedEvents: o.maxQueuedEvents,
    });
    // A new local thread reads its AGENTS.md (node:fs) now, on the thread pool while the rest of
    // its start runs (index line, first event, turn), not after it: the first model request then
    // waits for one read less (issue 15). A failed read is read again by that request, as before.
    if (lazyLocal) void readInstructions().catch(() => undefined);
    // The thread starts once its early session is open: a failure there fails the start, as an eager opening's does.
    await early;
    // After the thread exists: a restored command's item carries on in the turn that started it.
    const restored = state.saved && tools.restore ? await tools.restore(state.saved, opts.signal, (turnId) => thread.itemsFor(turnId)) : undefined;
    // A lazy environment is the thread's controller from the moment it opens, before any use.
    if (env instanceof LazyEnvironment) built.resolve(thread);
    else await thread.attachEscalations();
    if (restored && restored.lost.length > 0) {
      thread.fanout.publish({ type: "warning", message: `unified-exec session${restored.lost.length > 1 ? "s" : ""} ${restored.lost.join(", ")} ended while the thread was not loaded (the exec session expired or its server restarted)` });
    }
    return thread;
  } catch (err) {
    built.reject(TetherError.from(err));
    await writer.close().catch(() => undefined);
    // Never end a session that may hold the model's processes from before: leave it to its TTL.
    await (env?.detach && state.reattach && canReattach(info.environment) ? env.detach() : env?.close())?.catch(() => undefined);
    throw TetherError.from(err);
  }
}

/**
 * "Accept for the session" lasts as long as the thread's exec session, in both layers: the exec
 * session keeps its network allow_always grants across an agent restart, so the agent keeps
 * its grants when it reattached to that same session (env.resumed). A session that is new (it
 * expired, its server restarted, or the environment cannot be reattached) knows nothing of
 * them: they end, as a new Codex session asks again, and a record says so for later resumes.
 */
function restoreSessionGrants(env: Environment, policy: ThreadPolicy, writer: RolloutWriter, state: OpenState): void {
  const grants = state.sessionGrants ?? [];
  if (grants.length === 0) return;
  if (env.resumed === true) {
    for (const action of grants) policy.grantForSession(action);
    return;
  }
  writer.append({ t: "grants_cleared", reason: `exec session ${state.execSessionId} is new: the grants of the one before ended with it` });
}

function targetKind(target: string): ReturnType<typeof parseEnvTarget>["kind"] | undefined {
  try {
    return parseEnvTarget(target).kind;
  } catch {
    return undefined; // a name only a custom opener understands
  }
}
