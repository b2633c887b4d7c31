// Drives full agent turns in tests: an AgentCore with the real Responses client (pointed at
// the scripted Responses server), the real tools and execpolicy, on a given environment; and
// a watcher that collects a thread's events from any AgentClient and waits on them.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";
import type { AgentClient } from "../../clients/agent/agent-client.js";
import type { Environment } from "../../clients/environment/environment.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { defaultThreadServices } from "../../services/agent-server/default-agent-parts.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import type { ThreadEvent, ThreadItem } from "../../services/agent-server/thread/thread-event.js";

export async function agentCoreFor(options: { tetherHome: string; modelUrl: string; openEnvironment: () => Promise<Environment>; startupTimeoutMs?: number }): Promise<AgentCore> {
  return AgentCore.create({
    tetherHome: options.tetherHome,
    // The start-up timeout is the model client's alone (the turn loop has none of its own).
    model: new ResponsesModelClient({ baseURL: options.modelUrl, apiKey: "test-key", initialBackoffMs: 10, maxBackoffMs: 50, ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}) }),
    services: defaultThreadServices({ tetherHome: options.tetherHome }),
    openEnvironment: options.openEnvironment,
    instructions: async () => "You are a test agent.",
  });
}

export function rulesFile(tetherHome: string): string {
  return path.join(tetherHome, "rules", "default.rules");
}

export type TurnEnd = Extract<ThreadEvent, { type: "turn.completed" | "turn.failed" | "turn.interrupted" }>;

export interface ThreadWatch {
  events: ThreadEvent[];
  until(pred: (e: ThreadEvent) => boolean): Promise<ThreadEvent>;
  /** The next turn end after `from` events (default: any seen so far not yet returned). */
  turnEnd(): Promise<TurnEnd>;
  /** Approval items as they start, answered by `answer` (when given). */
  completedItems(type: ThreadItem["type"]): ThreadItem[];
  stop(): void;
}

/** Subscribes (as controller by default), waits for the opening thread.started, and records events. */
export async function watchThread(client: AgentClient, threadId: string, options: { controller?: boolean; onEvent?: (e: ThreadEvent) => void } = {}): Promise<ThreadWatch> {
  const abort = new AbortController();
  const it = client.events(threadId, { controller: options.controller ?? true, signal: abort.signal })[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done || first.value.type !== "thread.started") throw new Error(`the event stream did not open with thread.started: ${JSON.stringify(first.value)}`);
  const events: ThreadEvent[] = [];
  const waiters: { pred: (e: ThreadEvent) => boolean; resolve: (e: ThreadEvent) => void; reject: (e: unknown) => void }[] = [];
  let ended: unknown;
  void (async () => {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      events.push(r.value);
      options.onEvent?.(r.value);
      if (process.env.TETHER_TEST_DEBUG) console.log(JSON.stringify(r.value).slice(0, 2000));
      for (const w of waiters.filter((w) => w.pred(r.value))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r.value);
      }
    }
  })().catch((err: unknown) => {
    ended = err;
    for (const w of waiters.splice(0)) w.reject(err);
  });
  let endsSeen = 0;
  const isEnd = (e: ThreadEvent): e is TurnEnd => e.type === "turn.completed" || e.type === "turn.failed" || e.type === "turn.interrupted";
  const until = (pred: (e: ThreadEvent) => boolean) => {
    const found = events.find(pred);
    if (found) return Promise.resolve(found);
    if (ended) return Promise.reject(ended instanceof Error ? ended : new Error(String(ended)));
    return new Promise<ThreadEvent>((resolve, reject) => waiters.push({ pred, resolve, reject }));
  };
  return {
    events,
    until,
    async turnEnd() {
      const n = ++endsSeen;
      return (await until((e) => isEnd(e) && events.filter(isEnd).indexOf(e) === n - 1)) as TurnEnd;
    },
    completedItems: (type) => events.flatMap((e) => (e.type === "item.completed" && e.item.type === type ? [e.item] : [])),
    stop: () => abort.abort(),
  };
}

/** For watchThread's onEvent: accepts every approval the thread asks for. */
export function acceptAll(client: AgentClient, threadId: string): (e: ThreadEvent) => void {
  return (e) => {
    if (e.type !== "item.started" || e.item.type !== "approval") return;
    // A respond racing a killed server or an ended turn fails; the test's turn-end checks say why.
    void client.respond(threadId, e.item.id, { type: "accept" }).catch((err: unknown) => console.error(`accepting ${e.item.id}:`, err));
  };
}

/** Whether any process of this process group is left (signal 0 to the group: no /proc scan). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false; // ESRCH: not one process of the group is left
  }
}

/** Whether the group is gone within 5 s, polled while the kernel reaps it. */
export async function groupGone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 100 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 50));
  return !groupAlive(pgid);
}

export interface AgentRepoFixture {
  /** A fresh temp dir per test. */
  readonly home: string;
  /** `home/repo`: a Git repository whose AGENTS.md says "Always answer in haiku." */
  readonly repo: string;
  /** Closed after the test, the last registered first. */
  closeAfter<T extends { close(): Promise<unknown> }>(resource: T): T;
}

/** Per test: a repository with project instructions in a temp home, removed with what the test opened. */
export function agentRepoFixture(prefix: string): AgentRepoFixture {
  let home = "";
  let open: { close(): Promise<unknown> }[] = [];
  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), prefix));
    await mkdir(path.join(home, "repo", ".git"), { recursive: true });
    await writeFile(path.join(home, "repo", "AGENTS.md"), "Always answer in haiku.\n");
  });
  afterEach(async () => {
    for (const r of open.reverse()) await r.close();
    open = [];
    await rm(home, { recursive: true, force: true });
  });
  return {
    get home() {
      return home;
    },
    get repo() {
      return path.join(home, "repo");
    },
    closeAfter(resource) {
      open.push(resource);
      return resource;
    },
  };
}
