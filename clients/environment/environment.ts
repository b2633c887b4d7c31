// The one contract the agent and the CLI program against: where commands run is a
// detail of the implementation (in-process, a gRPC exec server on a socket, in a
// container, on a remote VM). Data shapes are the protocol's generated messages.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetInfoResponse } from "../../gen/tether/exec/v1/environment_pb.js";
import type {
  DirEntry,
  FileInfo,
  WatchEvent,
  WriteFileHeaderSchema,
} from "../../gen/tether/exec/v1/filesystem_pb.js";
import type {
  AttachResponse,
  ExitStatus,
  ProcessInfo,
  ProcessSpecSchema,
} from "../../gen/tether/exec/v1/process_pb.js";
import type { SandboxPolicySchema } from "../../gen/tether/exec/v1/sandbox_pb.js";
import type { EscalationRequest, NetworkRequest } from "../../gen/tether/exec/v1/session_pb.js";

export type ProcessSpecInit = MessageInitShape<typeof ProcessSpecSchema>;
export type SandboxPolicyInit = MessageInitShape<typeof SandboxPolicySchema>;
export type WriteFileHeaderInit = Omit<MessageInitShape<typeof WriteFileHeaderSchema>, "sessionId">;

export interface Signalable {
  signal?: AbortSignal;
}

export interface AttachOptions extends Signalable {
  /** Events after this seq; 0 = from the first. */
  afterSeq?: number;
  allowGaps?: boolean;
}

/** Stdin of one process as a byte stream (WriteStream); see ProcessOps.openStdin. */
export interface StdinWriter extends AsyncDisposable {
  /** Sends at once; resolves when queued (it waits while too many bytes are unacknowledged). */
  write(data: Uint8Array): Promise<void>;
  /** Resolves once everything written so far reached the process's stdin. */
  flush(): Promise<void>;
  /** Closes stdin after everything written; resolves once the server applied it all. */
  end(): Promise<void>;
  /** Stops the stream without closing stdin; bytes not yet acknowledged may be lost. */
  close(): Promise<void>;
}

export interface ProcessOps {
  start(processId: string, spec: ProcessSpecInit, opts?: Signalable): Promise<{ process: ProcessInfo; created: boolean }>;
  /** Started event first, then output/gaps, exit last. A gRPC environment resumes across reconnects by itself. */
  attach(processId: string, opts?: AttachOptions): AsyncIterable<AttachResponse>;
  write(processId: string, data: Uint8Array, opts?: Signalable & { eof?: boolean; writeId?: string }): Promise<{ bytesWritten: number; applied: boolean }>;
  /**
   * Stdin over one long-lived stream: the low-latency path for keystrokes. A gRPC environment
   * resends across reconnects without repeating or losing bytes. Close it when done.
   */
  openStdin(processId: string, opts?: Signalable): StdinWriter;
  signal(processId: string, signal: number | string, opts?: { target?: "process" | "group" }): Promise<void>;
  resize(processId: string, rows: number, cols: number): Promise<void>;
  terminate(processId: string, opts?: { graceMs?: number }): Promise<ExitStatus>;
  list(filter?: { labels?: Record<string, string>; includeExited?: boolean; allSessions?: boolean }): Promise<ProcessInfo[]>;
  wait(processId: string, opts?: Signalable): Promise<ExitStatus>;
}

export interface ReadFileOptions extends Signalable {
  offset?: number;
  length?: number;
}

export interface FileOps {
  stat(path: string, opts?: Signalable & { noFollow?: boolean }): Promise<FileInfo>;
  /** The info arrives with the first chunk; `info` resolves once it did. */
  readFile(path: string, opts?: ReadFileOptions): { info: Promise<FileInfo>; chunks: AsyncIterable<Uint8Array> };
  writeFile(header: WriteFileHeaderInit, data: AsyncIterable<Uint8Array> | Uint8Array, opts?: Signalable): Promise<FileInfo>;
  makeDir(path: string, opts?: Signalable & { parents?: boolean; mode?: number }): Promise<FileInfo>;
  readDir(path: string, opts?: Signalable & { depth?: number }): AsyncIterable<DirEntry>;
  remove(path: string, opts?: Signalable & { recursive?: boolean; force?: boolean }): Promise<void>;
  copy(source: string, destination: string, opts?: Signalable & { recursive?: boolean; overwrite?: boolean }): Promise<FileInfo>;
  rename(source: string, destination: string, opts?: Signalable & { overwrite?: boolean }): Promise<FileInfo>;
  canonicalize(path: string, opts?: Signalable): Promise<string>;
  /** Yields once the watch is in place (`ready`), then changes. */
  watch(paths: string[], opts?: Signalable & { recursive?: boolean }): AsyncIterable<{ ready: true } | WatchEvent>;
}

/** What a controller answers to an escalation: the same shape the exec server's core uses. */
export type EscalationDecision = "run" | "escalate" | "deny";

export interface DecisionResult {
  decision: EscalationDecision;
  /** Shown to the command on stderr for deny. */
  reason?: string;
}

/**
 * A controller's handler. `signal` aborts when the answer is no longer wanted — the exec
 * server already decided (no decision in time, the request was cancelled, the session
 * closed), the handler was replaced or disposed, or the environment closed — with a
 * TetherError reason saying which. A prompt shown for the request should close then.
 */
export type EscalationHandler = (request: EscalationRequest, signal: AbortSignal) => Promise<DecisionResult>;

/** allow_once: this connection; allow_always: this host:port for the rest of the session; deny: HTTP 403 to the process. */
export type NetworkVerdict = "allow_once" | "allow_always" | "deny";

export interface NetworkDecisionResult {
  decision: NetworkVerdict;
  /** Shown to the process on deny (x-tether-proxy-reason). */
  reason?: string;
}

/** As EscalationHandler: `signal` aborts when the answer is no longer wanted. */
export type NetworkRequestHandler = (request: NetworkRequest, signal: AbortSignal) => Promise<NetworkDecisionResult>;

/** Events of the session's stream every client of the session receives (controller or not). */
export type SessionEvent =
  | { type: "escalation_resolved"; escalationId: string; decision: EscalationDecision; reason: string }
  | { type: "network_resolved"; requestId: string; decision: NetworkVerdict; reason: string }
  | { type: "elicitation"; count: number };

export interface SessionOps {
  readonly sessionId: string;
  incrementElicitation(): Promise<number>;
  decrementElicitation(): Promise<number>;
  /** Become the session's controller: zsh-fork escalation requests reach `handler`. */
  handleEscalations(handler: EscalationHandler): Promise<Disposable>;
  /**
   * Become the session's controller for its network proxies too: a host a process's proxy has
   * no rule for (sandbox network.ask_controller) reaches `handler`. Without one, such hosts are denied.
   */
  handleNetworkRequests(handler: NetworkRequestHandler): Promise<Disposable>;
  /** Session events as they arrive: decisions made (by anyone, or by timeout), elicitation count changes. */
  onEvent(listener: (event: SessionEvent) => void): Disposable;
  /**
   * Replaces the session's default sandbox for later calls: processes started afterwards that
   * ask for none, and file calls. Running processes keep theirs. Undefined: the server's default.
   */
  setSandbox(policy: SandboxPolicyInit | undefined, opts?: Signalable): Promise<void>;
}

export interface Environment extends AsyncDisposable {
  /** "local", "unix", "grpc", "grpcs", "docker", ... */
  readonly kind: string;
  /** Human-readable: where commands run. */
  readonly description: string;
  /**
   * The session existed before this environment opened it (a restarted agent reattached):
   * its processes, and what its controller allowed for good (network allow_always), are
   * still there. Absent or false: a new session.
   */
  readonly resumed?: boolean;
  info(opts?: Signalable): Promise<GetInfoResponse>;
  readonly processes: ProcessOps;
  readonly files: FileOps;
  readonly session: SessionOps;
  /** Ends the session (its processes are killed) and releases connections. Idempotent. */
  close(): Promise<void>;
  /**
   * Releases connections but leaves the session to the server: it and its processes live for
   * its detached TTL, and opening the same session id again reattaches. Only environments
   * whose session can be reopened have it (an exec server the caller did not start).
   */
  detach?(): Promise<void>;
}
