// One client session: the processes it owns live while it does. It is attached while
// an Events stream is open and expires a detached TTL after the last one closes. It
// keeps the elicitation counter (client-driven) and the escalations waiting for its
// controller; either one above zero pauses the session's stopwatches.
import { create } from "@bufbuild/protobuf";
import type { SandboxPolicy } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { type EventsResponse, EventsResponseSchema } from "../../../gen/tether/exec/v1/session_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { DecisionResult, ExecIntercept } from "../escalation/escalation-types.js";

/** Events queued per subscriber before the oldest informational ones are dropped. */
const SUBSCRIBER_QUEUE = 256;

export interface PendingEscalation {
  id: string;
  request: ExecIntercept;
  resolve(result: DecisionResult): void;
}

/** A connection a sandboxed process's network proxy asks about (sandbox network.ask_controller). */
export interface NetworkAsk {
  processId: string;
  host: string;
  port: number;
  /** "https" (CONNECT) or "http". */
  protocol: string;
}

export type NetworkVerdict = "allow_once" | "allow_always" | "deny";

export interface NetworkAnswer {
  decision: NetworkVerdict;
  reason?: string;
}

export interface PendingNetwork {
  id: string;
  request: NetworkAsk;
  resolve(answer: NetworkAnswer): void;
}

/** Hosts a session's controller allowed for good; bounded so a chatty controller cannot grow it without end. */
export const MAX_ALWAYS_ALLOWED_HOSTS = 1024;

export class Subscriber {
  readonly controller: boolean;
  #queue: EventsResponse[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(controller: boolean) {
    this.controller = controller;
  }

  push(event: EventsResponse): void {
    if (this.#closed) return;
    this.#queue.push(event);
    // A stalled reader must not grow memory: drop the oldest elicitation notices first.
    if (this.#queue.length > SUBSCRIBER_QUEUE) {
      const i = this.#queue.findIndex((e) => e.event.case === "elicitation");
      this.#queue.splice(i >= 0 ? i : 0, 1);
    }
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *events(signal: AbortSignal): AsyncIterable<EventsResponse> {
    const onAbort = () => this.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const next = this.#queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

export class Session {
  readonly id: string;
  readonly detachedTtlMs: number;
  readonly labels: Record<string, string>;
  /** Replaced by SetSandbox; read at each Start and file call. */
  defaultSandbox: SandboxPolicy | undefined;
  /** How long escalation and network requests wait for the controller. */
  readonly decisionTimeoutMs: number;
  readonly subscribers = new Set<Subscriber>();
  controller: Subscriber | undefined;
  readonly pending = new Map<string, PendingEscalation>();
  readonly pendingNetwork = new Map<string, PendingNetwork>();
  /** "host:port" pairs the controller answered ALLOW_ALWAYS for. */
  readonly alwaysAllowed = new Set<string>();
  elicitationCount = 0;
  /** A handle from the session manager's Clock. */
  expiryTimer: unknown;

  constructor(id: string, detachedTtlMs: number, labels: Record<string, string>, defaultSandbox: SandboxPolicy | undefined, decisionTimeoutMs: number) {
    this.id = id;
    this.detachedTtlMs = detachedTtlMs;
    this.labels = labels;
    this.defaultSandbox = defaultSandbox;
    this.decisionTimeoutMs = decisionTimeoutMs;
  }

  /** Stopwatches pause while a human is asked: by the client's counter or a waiting escalation or network request. */
  get paused(): boolean {
    return this.elicitationCount > 0 || this.pending.size > 0 || this.pendingNetwork.size > 0;
  }

  broadcast(event: EventsResponse): void {
    for (const s of this.subscribers) s.push(event);
  }

  ready(): EventsResponse {
    return create(EventsResponseSchema, {
      event: {
        case: "ready",
        value: { sessionId: this.id, elicitationCount: this.elicitationCount, pendingEscalations: this.pending.size },
      },
    });
  }

  networkEvent(p: PendingNetwork): EventsResponse {
    const { processId, host, port, protocol } = p.request;
    return create(EventsResponseSchema, { event: { case: "networkRequest", value: { requestId: p.id, processId, host, port, protocol } } });
  }

  escalationEvent(p: PendingEscalation): EventsResponse {
    const { processId, file, argv, cwd, env } = p.request;
    return create(EventsResponseSchema, {
      event: { case: "escalation", value: { escalationId: p.id, processId, file, argv, cwd, env } },
    });
  }
}

export function sessionNotFound(id: string): TetherError {
  return new TetherError(
    ErrorCode.NotFound,
    `session ${JSON.stringify(id.slice(0, 140))} does not exist or expired: open a new one with OpenSession`,
  );
}
