// A thread's turn, run and recorded: what the turn runner gets from the thread (the model
// request's settings, the conversation, the tools with their context, steering, the lazy
// environment's opening) and how the turn's end is written (the end record, the index, the
// last event). Thread keeps the state; this is one turn's use of it.
import type { Environment } from "../../../clients/environment/environment.js";
import { LazyEnvironment } from "../../../clients/environment/lazy-environment.js";
import { TetherError } from "../../common/tether-error.js";
import type { ConversationItem, ModelRequest } from "../model/model-client.js";
import type { ApprovalGate } from "./approval-gate.js";
import type { RunningTurn } from "./running-turn.js";
import type { ThreadEvent, ThreadInfo } from "./thread-event.js";
import type { LiveTurn, ThreadInit } from "./thread-init.js";
import { type TurnOutcome, runTurn } from "./turn-runner.js";

/** What a turn reads and changes of its thread. */
export interface TurnHost {
  readonly init: ThreadInit;
  readonly env: Environment;
  readonly gate: ApprovalGate;
  info(): ThreadInfo;
  setInfo(info: ThreadInfo): void;
  writableRoots(): string[];
  conversation(): ConversationItem[];
  takeSteers(): string[];
  /** False while a lazily opened environment has not begun opening. */
  envInUse(): boolean;
  /** The turn is over (its end recorded): the thread may start another. */
  turnEnded(): void;
  emit(event: ThreadEvent): void;
}

export async function runThreadTurn(host: TurnHost, turn: RunningTurn, text: string, view: LiveTurn): Promise<void> {
  const i = host.init;
  let outcome: TurnOutcome;
  // Read once per turn: AGENTS.md may live on a remote environment.
  let instructions: Promise<string> | undefined;
  try {
    outcome = await runTurn(
      {
        turnId: turn.turnId,
        model: i.model,
        request: async (): Promise<Omit<ModelRequest, "input" | "tools">> => {
          await i.writer.room();
          const outputSchema = turn.outputSchema ? { name: "final_answer", schema: turn.outputSchema } : undefined;
          instructions ??= i.instructions(turn.abort.signal);
          const reasoning = i.reasoning;
          const info = host.info();
          return { model: info.model, instructions: await instructions, promptCacheKey: info.threadId, outputSchema, ...(reasoning ? { reasoning } : {}) };
        },
        tools: i.tools,
        items: turn.items,
        append: (item) => {
          view.input.push(item);
          i.writer.append({ t: "input", turnId: turn.turnId, item });
        },
        conversation: () => host.conversation(),
        takeSteers: () => host.takeSteers(),
        toolContext: (callId) =>
          turn.toolContext(callId, {
            cwd: host.info().cwd,
            env: host.env,
            gate: host.gate,
            sandbox: () => host.info().sandbox,
            writableRoots: () => host.writableRoots(),
            proxyHosts: () => i.policy.proxyHostLists?.() ?? { allowHosts: [], denyHosts: [] },
          }),
        newId: i.newId,
        // When the model starts a function call (its arguments still streaming; never before
        // the request is out, where loading would hold it back), the tools' parsers (zod) load
        // and a lazily opened environment starts opening; a turn that calls no tool ends
        // without either (no exec core, no sandbox probe, no zod). A tool call waits for the
        // opening, and a failed opening fails the turn with its own error.
        toolsComing: () => {
          i.tools.prefetch?.();
          if (host.env instanceof LazyEnvironment && !host.env.started) host.env.start();
        },
        toolsReady: async () => {
          if (host.env instanceof LazyEnvironment) await host.env.ready();
        },
        emitRetrying: (e) => host.emit({ ...e, type: "model.retrying", turnId: turn.turnId }),
        signal: turn.abort.signal,
        cancelled: () => turn.cancelled,
      },
      text,
    );
  } catch (err) {
    const e = TetherError.from(err);
    outcome = { status: "failed", usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 }, error: { code: "INTERNAL", message: e.message } };
  }
  if (turn.abort.signal.aborted && host.envInUse()) {
    // No orphans: every process group this turn started ends with it.
    await i.tools.terminateTurn(turn.turnId).catch((err: unknown) => host.emit({ type: "warning", message: `could not end the turn's processes: ${TetherError.from(err).message}` }));
  }
  turn.items.closeAll();
  view.status = outcome.status;
  const at = i.now().toISOString();
  host.setInfo({ ...host.info(), updatedAt: at });
  i.writer.append({ t: "end", turnId: turn.turnId, status: outcome.status, usage: outcome.usage, ...(outcome.status === "failed" ? { error: outcome.error } : {}), at });
  await i.writer.flush().catch((err: unknown) => host.emit({ type: "warning", message: TetherError.from(err).message }));
  await i.onTurnEnd(host.info()).catch((err: unknown) => host.emit({ type: "warning", message: `the thread index was not updated: ${TetherError.from(err).message}` }));
  host.turnEnded();
  switch (outcome.status) {
    case "completed":
      i.onTurnCompleted?.({ threadId: host.info().threadId, turnId: turn.turnId, cwd: host.info().cwd, items: view.items }, (message) => host.emit({ type: "warning", message }));
      return host.emit({ type: "turn.completed", turnId: turn.turnId, usage: outcome.usage });
    case "failed":
      return host.emit({ type: "turn.failed", turnId: turn.turnId, usage: outcome.usage, error: outcome.error });
    case "interrupted":
      return host.emit({ type: "turn.interrupted", turnId: turn.turnId, usage: outcome.usage });
  }
}
