// A ToolContext for tool tests: authorization answers from a scripted function (allowed by
// default) and records what was asked; the item emitter records every call in order and lets
// a test wait for an event instead of sleeping.
import type { Environment } from "../../clients/environment/environment.js";
import type { Authorization, ProposedAction, SandboxMode } from "../../services/agent-server/policy/approval-types.js";
import type { ThreadItem } from "../../services/agent-server/thread/thread-event.js";
import type { ItemEmitter, ToolContext } from "../../services/agent-server/tools/tool.js";

export type RecordedItemEvent =
  | { kind: "started" | "updated" | "completed"; item: ThreadItem }
  | { kind: "delta"; itemId: string; deltaKind: "text" | "reasoning" | "output"; delta: string };

export class RecordingEmitter implements ItemEmitter {
  readonly events: RecordedItemEvent[] = [];
  #waiters: { test: (e: RecordedItemEvent) => boolean; resolve: () => void }[] = [];

  started(item: ThreadItem): void {
    this.#push({ kind: "started", item: structuredClone(item) });
  }
  updated(item: ThreadItem): void {
    this.#push({ kind: "updated", item: structuredClone(item) });
  }
  completed(item: ThreadItem): void {
    this.#push({ kind: "completed", item: structuredClone(item) });
  }
  /** Ids of items told to outlive their turn. */
  readonly kept = new Set<string>();
  keepOpen(itemId: string): void {
    this.kept.add(itemId);
  }
  delta(itemId: string, deltaKind: "text" | "reasoning" | "output", delta: string): void {
    this.#push({ kind: "delta", itemId, deltaKind, delta });
  }

  /** Output deltas of an item so far, joined. */
  output(itemId: string): string {
    return this.events.map((e) => (e.kind === "delta" && e.itemId === itemId ? e.delta : "")).join("");
  }

  /** Resolves once an event (already recorded or future) passes `test`. */
  waitFor(test: (e: RecordedItemEvent) => boolean): Promise<void> {
    if (this.events.some(test)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /** Resolves once the joined output deltas of `itemId` match. */
  waitForOutput(itemId: string, pattern: RegExp): Promise<void> {
    return this.waitFor(() => pattern.test(this.output(itemId)));
  }

  #push(e: RecordedItemEvent): void {
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(e)) return true;
      w.resolve();
      return false;
    });
  }
}

export interface FakeContextOptions {
  env: Environment;
  cwd: string;
  threadId?: string;
  turnId?: string;
  callId?: string;
  sandbox?: SandboxMode;
  writableRoots?: string[];
  signal?: AbortSignal;
  authorize?: (action: ProposedAction) => Authorization | Promise<Authorization>;
  item?: RecordingEmitter;
}

export interface FakeToolContext extends ToolContext {
  item: RecordingEmitter;
  /** Every action the tool asked about, in order. */
  asked: ProposedAction[];
}

let calls = 0;

export function fakeToolContext(o: FakeContextOptions): FakeToolContext {
  const asked: ProposedAction[] = [];
  const authorize = o.authorize ?? (() => ({ allowed: true as const, unsandboxed: false }));
  return {
    threadId: o.threadId ?? "thread-1",
    turnId: o.turnId ?? "turn-1",
    callId: o.callId ?? `call_${++calls}`,
    cwd: o.cwd,
    env: o.env,
    sandbox: o.sandbox ?? "full-access",
    writableRoots: o.writableRoots ?? [o.cwd],
    signal: o.signal ?? new AbortController().signal,
    item: o.item ?? new RecordingEmitter(),
    asked,
    async authorize(action) {
      asked.push(action);
      return authorize(action);
    },
  };
}
