// Connects the interactive session to the agent: the thread's events go through the pure
// reducers into a snapshot the Ink app renders; keys become agent calls (start a turn, steer,
// interrupt, answer an approval) and slash commands. No second agent loop: the agent decides,
// this only relays (STYLE rule 21).
import type { Key } from "ink";
import type { ApprovalDecision } from "../../../services/agent-server/policy/approval-types.js";
import type { ThreadSettings } from "../../agent/agent-client.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import type { AgentSession } from "../agent-session.js";
import { usageError } from "../cli-error.js";
import { INITIAL_PROMPT, type PromptAction, type PromptState, reducePrompt } from "./prompt-state.js";
import { INITIAL_TUI_STATE, type TuiAction, type TuiState, reduce } from "./tui-state.js";
import { APPROVAL_KEYS } from "./tui-view.js";

/** Which thread the session opens with (see TuiController.open). */
export interface OpenTarget {
  threadId?: string;
  /** This directory's most recent thread (Codex's --last). */
  last?: boolean;
  /** With last: the most recent thread of any directory (Codex's --all). */
  all?: boolean;
  /** A new thread with the history of the one named (or the last). */
  fork?: boolean;
  /** The first turn's prompt. */
  prompt?: string;
  /** Open a new thread and list the recent ones to continue (/resume): Codex's `resume` picker. */
  pick?: boolean;
}

export interface TuiSnapshot {
  state: TuiState;
  prompt: PromptState;
  hint?: string;
}

const HELP = [
  "/new              start a new thread",
  "/resume [ID]      list recent threads, or continue one",
  "/status           model, environment, sandbox, approvals, token use",
  "/diff             files changed in this thread",
  "/approvals [MODE] pending approvals and the policy (MODE applies at once)",
  "/model [NAME]     the model (NAME applies from the next model request)",
  "/exit             leave (or Ctrl-C twice)",
].join("\n");

/** Far more than the agent keeps per thread (MAX_RETAINED_WARNINGS, 32). */
const MAX_WARNING_IDS = 1024;

export class TuiController {
  readonly #session: AgentSession;
  readonly #now: () => number;
  #snapshot: TuiSnapshot = { state: INITIAL_TUI_STATE, prompt: INITIAL_PROMPT };
  readonly #listeners = new Set<() => void>();
  #threadId: string | undefined;
  #stream: AbortController | undefined;
  #ctrlC = 0;
  /** The command line's prompt, sent once the thread's events are followed. */
  #firstPrompt: string | undefined;
  /** Ids of the warnings shown: the agent hands its kept ones to every new subscription (/resume, /new then /resume). */
  readonly #warningsShown = new Set<string>();
  #exit!: () => void;
  /** Resolves when the user leaves (/exit, a second Ctrl-C). */
  readonly done = new Promise<void>((resolve) => (this.#exit = resolve));

  constructor(session: AgentSession, options: { now?: () => number } = {}) {
    this.#session = session;
    this.#now = options.now ?? Date.now;
  }

  now = (): number => this.#now();
  snapshot = (): TuiSnapshot => this.#snapshot;
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  #set(next: Partial<TuiSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...next };
    for (const l of this.#listeners) l();
  }
  #dispatch(action: TuiAction): void {
    this.#set({ state: reduce(this.#snapshot.state, action) });
  }
  #prompt(action: PromptAction): void {
    this.#set({ prompt: reducePrompt(this.#snapshot.prompt, action) });
  }
  #notice(text: string, tone: "info" | "warn" | "error" = "info"): void {
    this.#dispatch({ type: "notice", text, tone });
  }
  #fail(what: string): (err: unknown) => void {
    return (err) => this.#notice(`${what}: ${TetherError.from(err).message}`, "error");
  }

  /**
   * What `tether [PROMPT]`, `tether resume` and `tether fork` open (Codex's spellings): a new
   * thread, a stored one (named, or this directory's most recent), or a fork of one; with a
   * prompt, its first turn starts as soon as the thread's events are followed.
   */
  async open(target: OpenTarget = {}): Promise<void> {
    let id = target.threadId;
    if (target.last) {
      const cwd = this.#session.thread.cwd;
      const [latest] = await this.#session.client.listThreads({ limit: 1, ...(target.all ? {} : { cwd }) });
      if (!latest) throw usageError(`no stored thread in ${cwd}: start one with tether, or name one (tether resume THREAD_ID)`);
      id = latest.threadId;
    }
    if (id !== undefined && target.fork) id = (await this.#session.client.forkThread(id)).threadId;
    this.#firstPrompt = target.prompt?.trim() || undefined;
    await this.start(id);
    if (target.pick) await this.#command("/resume");
  }

  /** Opens a new thread, or the one named, and follows its events. */
  async start(resumeId?: string): Promise<void> {
    this.#stream?.abort();
    this.#dispatch({ type: "reset" });
    const client = this.#session.client;
    const info = resumeId ? await client.resumeThread(resumeId, this.#session.overrides) : await client.startThread(this.#session.thread);
    this.#threadId = info.threadId;
    if (resumeId) {
      const snapshot = await client.readThread(resumeId);
      this.#dispatch({ type: "history", items: snapshot.turns.flatMap((t) => t.items) });
    }
    const stream = new AbortController();
    this.#stream = stream;
    void this.#follow(info.threadId, stream.signal).catch(this.#fail("the thread's event stream ended"));
  }

  async #follow(threadId: string, signal: AbortSignal): Promise<void> {
    for await (const event of this.#session.client.events(threadId, { controller: true, signal })) {
      if (signal.aborted) return;
      if (event.type === "warning" && event.id !== undefined && !this.#firstShowing(event.id)) continue;
      this.#dispatch({ type: "event", event, at: this.#now() });
      // The subscription opens with thread.started: from here no event of the turn is missed.
      const first = this.#firstPrompt;
      if (first !== undefined && event.type === "thread.started") {
        this.#firstPrompt = undefined;
        void this.#session.client.startTurn(threadId, { text: first }).catch(this.#fail("the turn did not start"));
      }
    }
  }

  /** False for a warning already shown; bounded (the oldest ids go first). */
  #firstShowing(id: string): boolean {
    if (this.#warningsShown.has(id)) return false;
    if (this.#warningsShown.size >= MAX_WARNING_IDS) this.#warningsShown.delete(this.#warningsShown.values().next().value!);
    this.#warningsShown.add(id);
    return true;
  }

  paste(text: string): void {
    if (this.#snapshot.state.pending.length) return;
    this.#ctrlC = 0;
    this.#prompt({ type: "insert", text });
  }

  key(input: string, key: Key): void {
    if (key.ctrl && input === "c") return this.#onCtrlC();
    this.#ctrlC = 0;
    if (this.#snapshot.hint) this.#set({ hint: undefined });
    const asking = this.#snapshot.state.pending[0];
    if (asking) {
      const choice = APPROVAL_KEYS.find((k) => k.key === input.toLowerCase() && asking.availableDecisions.includes(k.decision));
      if (!choice) return;
      // A network request's rule is implied by its host; any other needs the proposed one.
      if (choice.decision === "accept_with_rule" && !asking.proposedRule && asking.action.kind !== "network") return;
      const decision: ApprovalDecision =
        choice.decision === "accept_with_rule" ? { type: "accept_with_rule", ...(asking.proposedRule ? { rule: asking.proposedRule } : {}) } : { type: choice.decision };
      this.#dispatch({ type: "answered", requestId: asking.requestId });
      void this.#session.client.respond(asking.threadId, asking.requestId, decision).catch(this.#fail("answering the approval failed"));
      return;
    }
    if (key.return) return this.#submit();
    if (key.upArrow) return this.#prompt({ type: "up" });
    if (key.downArrow) return this.#prompt({ type: "down" });
    if (key.backspace || key.delete) return this.#prompt({ type: "backspace" });
    if (key.ctrl && input === "u") return this.#prompt({ type: "clear" });
    if (key.ctrl && input === "d" && this.#snapshot.prompt.text === "") return this.#exit();
    if (input && !key.ctrl && !key.meta && !key.escape && !key.tab) this.#typed(input);
  }

  /** Typed text; keys typed fast can arrive in one chunk, Enter (\r) included: it still submits. */
  #typed(input: string): void {
    const parts = input.split("\r");
    parts.forEach((part, i) => {
      if (part !== "") this.#prompt({ type: "insert", text: part });
      if (i < parts.length - 1) this.#submit();
    });
  }

  #onCtrlC(): void {
    this.#ctrlC++;
    if (this.#ctrlC >= 2) return this.#exit();
    if (this.#snapshot.state.turn && this.#threadId) {
      this.#set({ hint: "interrupting… Ctrl-C again to exit" });
      void this.#session.client.interrupt(this.#threadId).catch(this.#fail("interrupt failed"));
    } else {
      this.#prompt({ type: "clear" });
      this.#set({ hint: "Ctrl-C again to exit" });
    }
  }

  #submit(): void {
    const text = this.#snapshot.prompt.text.trim();
    this.#prompt({ type: "submit" });
    if (text === "") return;
    if (text.startsWith("/")) return void this.#command(text).catch(this.#fail(text.split(" ")[0]!));
    const threadId = this.#threadId;
    if (!threadId) return this.#notice("no thread yet: wait a moment", "warn");
    const client = this.#session.client;
    // While a turn runs, more input steers it (the model sees it at its next request).
    if (this.#snapshot.state.turn) void client.steer(threadId, text).then(() => this.#notice(`(sent to the running turn) ${text}`)).catch(this.#fail("steering failed"));
    else void client.startTurn(threadId, { text }).catch(this.#fail("the turn did not start"));
  }

  async #command(line: string): Promise<void> {
    const [name, ...args] = line.split(/\s+/);
    const { state } = this.#snapshot;
    switch (name) {
      case "/help":
        return this.#notice(HELP);
      case "/exit":
      case "/quit":
        return this.#exit();
      case "/new":
        await this.start();
        return this.#notice("new thread");
      case "/resume": {
        if (args[0]) {
          await this.start(args[0]);
          return this.#notice(`resumed ${args[0]}`);
        }
        const threads = await this.#session.client.listThreads({ limit: 10, cwd: this.#session.thread.cwd });
        return this.#notice(threads.length ? ["recent threads (/resume ID):", ...threads.map((t) => `  ${t.threadId}  ${t.updatedAt.slice(0, 16)}  ${t.preview}`)].join("\n") : "no threads yet in this directory");
      }
      case "/status": {
        const t = state.thread;
        const u = state.usage;
        const policy = t ? (typeof t.approvalPolicy === "string" ? t.approvalPolicy : t.approvalPolicy.mode) : "?";
        return this.#notice(
          [
            `thread      ${t?.threadId ?? "(none)"}`,
            `model       ${t?.model ?? this.#session.thread.model}`,
            `environment ${t?.environment ?? this.#session.thread.environment}`,
            `sandbox     ${t?.sandbox ?? this.#session.thread.sandbox}`,
            `approvals   ${policy}`,
            `directory   ${t?.cwd ?? this.#session.thread.cwd}`,
            `tokens      ${u.inputTokens} in (${u.cachedInputTokens} cached), ${u.outputTokens} out`,
          ].join("\n"),
        );
      }
      case "/diff": {
        const changes = Object.values(state.changes);
        if (changes.length === 0) return this.#notice("no files changed in this thread");
        return this.#notice(changes.map((c) => `${c.kind} ${c.movePath ?? c.path}${c.diff ? `\n${c.diff.trimEnd()}` : ""}`).join("\n"));
      }
      case "/approvals": {
        const modes = ["untrusted", "on-failure", "on-request", "never"] as const;
        if (args[0]) {
          const mode = modes.find((m) => m === args[0]);
          if (!mode) return this.#notice(`approval policy ${args[0]}? use one of: ${modes.join(", ")}`, "warn");
          await this.#changeSettings({ approvalPolicy: mode });
          // Later threads (/new) start with it too.
          this.#session.thread.approvalPolicy = mode;
          return this.#notice(`approvals: ${mode} (from the next command on)`);
        }
        const pending = state.pending.map((r) => `  ${r.requestId}: ${r.reason}`);
        const policy = state.thread?.approvalPolicy ?? this.#session.thread.approvalPolicy;
        return this.#notice([`approvals: ${typeof policy === "string" ? policy : policy.mode}`, ...(pending.length ? ["waiting:", ...pending] : ["nothing waiting"])].join("\n"));
      }
      case "/model": {
        if (!args[0]) return this.#notice(`model: ${state.thread?.model ?? this.#session.thread.model}`);
        await this.#changeSettings({ model: args[0] });
        this.#session.thread.model = args[0];
        return this.#notice(`model: ${args[0]} (from the next model request on)`);
      }
      default:
        return this.#notice(`unknown command ${name}: /help lists them`, "warn");
    }
  }

  /** Changes the open thread's settings at once (the agent records them); the view shows its answer. */
  async #changeSettings(settings: ThreadSettings): Promise<void> {
    if (!this.#threadId) throw new TetherError(ErrorCode.FailedPrecondition, "no thread yet: wait a moment");
    this.#dispatch({ type: "settings", thread: await this.#session.client.updateThreadSettings(this.#threadId, settings) });
  }

  async close(): Promise<void> {
    this.#stream?.abort();
    await this.#session.client.close();
  }
}
