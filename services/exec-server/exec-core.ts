// Everything an exec server owns, wired together and transport-free: processes,
// sessions, files, sandboxing and environment facts. The in-process backend and the
// gRPC handlers both drive this object.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Capability } from "../../gen/tether/exec/v1/environment_pb.js";
import type { ProcessSpec } from "../../gen/tether/exec/v1/process_pb.js";
import type { SandboxPolicy } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError } from "../common/tether-error.js";
import { type EnvironmentFacts, detectEnvironment } from "./environment-info.js";
import { ZshForkBroker } from "./escalation/zsh-fork.js";
import { ExecPreparer, type ZshForkLauncher } from "./exec-preparer.js";
import { FileService } from "./fs/file-service.js";
import { launcherPath } from "./process/launcher-path.js";
import type { ManagedProcess } from "./process/managed-process.js";
import { PidsCgroup } from "./process/pids-cgroup.js";
import type { Clock } from "./process/stopwatch.js";
import { type ProcessLimits, ProcessManager } from "./process/process-manager.js";
import type { FileAccessPolicy } from "./sandbox/file-access.js";
import { detectSandboxSupport } from "./sandbox/sandbox-capabilities.js";
import { type SandboxModeName, fileAccessPolicy, resolveSandboxPolicy } from "./sandbox/sandbox-policy.js";
import { Sandboxer } from "./sandbox/sandboxer.js";
import type { Session } from "./session/session.js";
import { SessionManager } from "./session/session-manager.js";

/**
 * The file API never serves /proc: there it would show the exec server's own memory and
 * environment (and its children's), which sandboxed processes never see (they get their own).
 */
function withoutProc(policy: FileAccessPolicy): FileAccessPolicy {
  return {
    accessFor: (p) => (p === "/proc" || p.startsWith("/proc/") ? "none" : policy.accessFor(p)),
    describe: () => `${policy.describe()}; /proc is not served`,
  };
}

export const SANDBOX_MODES: readonly SandboxModeName[] = ["full-access", "read-only", "workspace-write"];

export interface ExecCoreOptions {
  defaultCwd?: string;
  limits?: Partial<ProcessLimits>;
  defaultDetachedTtlMs?: number;
  decisionTimeoutMs?: number;
  /** Sandbox for processes and file calls that ask for none (default full-access). */
  defaultSandboxMode?: string;
  /** Private directory for sockets and proxies; a fresh 0700 temp dir by default. */
  runtimeDir?: string;
  /** Per-process pids cgroups (limits.maxPidsPerProcess): detected by default; false turns them off. */
  cgroups?: boolean;
  /** Drives every timer of the core: process timeouts and retention, session TTLs, decision timeouts. */
  clock?: Clock;
  /** The environment processes inherit; process.env, read at each Start, by default. */
  serverEnv?: NodeJS.ProcessEnv;
}

export class ExecCore implements AsyncDisposable {
  readonly processes: ProcessManager;
  readonly sessions: SessionManager;
  readonly files: FileService;
  readonly runtimeDir: string;
  readonly facts: EnvironmentFacts;
  readonly defaultCwd: string;
  readonly defaultMode: SandboxModeName;
  readonly #sandboxer: Sandboxer;
  readonly #ownsRuntimeDir: boolean;
  readonly #zshFork: (ZshForkLauncher & { close(): Promise<void> }) | undefined;
  /** Per-process pids cgroups, when the machine has a writable pids controller. */
  readonly cgroups: PidsCgroup | undefined;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    processes: ProcessManager;
    sessions: SessionManager;
    sandboxer: Sandboxer;
    runtimeDir: string;
    ownsRuntimeDir: boolean;
    facts: EnvironmentFacts;
    defaultCwd: string;
    defaultMode: SandboxModeName;
    zshFork: (ZshForkLauncher & { close(): Promise<void> }) | undefined;
    cgroups: PidsCgroup | undefined;
  }) {
    this.processes = init.processes;
    this.sessions = init.sessions;
    this.#sandboxer = init.sandboxer;
    this.runtimeDir = init.runtimeDir;
    this.#ownsRuntimeDir = init.ownsRuntimeDir;
    this.facts = init.facts;
    this.defaultCwd = init.defaultCwd;
    this.defaultMode = init.defaultMode;
    this.#zshFork = init.zshFork;
    this.cgroups = init.cgroups;
    this.files = new FileService({ defaultPolicy: this.filePolicyFor("") });
  }

  static async create(options: ExecCoreOptions = {}): Promise<ExecCore> {
    const defaultMode = (options.defaultSandboxMode ?? "full-access") as SandboxModeName;
    if (!SANDBOX_MODES.includes(defaultMode)) {
      throw new TetherError(ErrorCode.InvalidArgument, `default sandbox ${JSON.stringify(options.defaultSandboxMode)} must be one of: ${SANDBOX_MODES.join(", ")}`);
    }
    const ownsRuntimeDir = options.runtimeDir === undefined;
    const runtimeDir = options.runtimeDir ?? (await mkdtemp(path.join(os.tmpdir(), "tether-exec-")));
    await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
    const defaultCwd = path.resolve(options.defaultCwd ?? process.cwd());
    const sandboxer = new Sandboxer({ runtimeDir: path.join(runtimeDir, "sandbox") });
    const nativeDir = path.dirname(launcherPath());
    const zshAvailable = await ZshForkBroker.available(nativeDir);
    const zshFork = zshAvailable.ok ? new ZshForkBroker({ runtimeDir: path.join(runtimeDir, "zsh-fork"), nativeDir, clock: options.clock }) : undefined;
    const zshForkUnavailable = zshAvailable.ok ? undefined : zshAvailable.reason;
    const preparer = new ExecPreparer({
      sandboxer,
      defaultMode,
      zshFork,
      zshForkUnavailable,
    });
    const cgroupProbe = options.cgroups === false ? { ok: false as const, reason: "turned off" } : await PidsCgroup.detect({ clock: options.clock });
    const cgroups = cgroupProbe.ok ? cgroupProbe.cgroups : undefined;
    const processes = new ProcessManager({ launcherPath: launcherPath(), defaultCwd, limits: options.limits, preparer, cgroups, clock: options.clock, serverEnv: options.serverEnv });
    const sessions = new SessionManager({
      processes,
      defaultDetachedTtlMs: options.defaultDetachedTtlMs,
      decisionTimeoutMs: options.decisionTimeoutMs,
      clock: options.clock,
    });
    const support = await detectSandboxSupport();
    const capabilities: Capability[] = [];
    const unavailable: Record<string, string> = {};
    if (support.bwrap.ok) capabilities.push(Capability.SANDBOX_BWRAP, Capability.NETWORK_PROXY);
    else unavailable.sandbox_bwrap = support.bwrap.reason;
    if (zshFork) capabilities.push(Capability.ZSH_FORK);
    else unavailable.zsh_fork = zshForkUnavailable ?? "not configured";
    if (!cgroupProbe.ok) unavailable.pids_limit = cgroupProbe.reason;
    const facts = await detectEnvironment({
      defaultCwd,
      limits: processes.limits,
      defaultDetachedTtlMs: sessions.defaultDetachedTtlMs,
      extraCapabilities: capabilities,
      unavailable,
    });
    return new ExecCore({ processes, sessions, sandboxer, runtimeDir, ownsRuntimeDir, facts, defaultCwd, defaultMode, zshFork, cgroups });
  }

  /** Replaces a session's default sandbox for later calls; a policy that does not resolve is INVALID_ARGUMENT and changes nothing. */
  setSessionSandbox(sessionId: string, policy: SandboxPolicy | undefined): void {
    this.sessions.get(sessionId);
    if (policy) resolveSandboxPolicy(policy, { cwd: this.defaultCwd, defaultMode: this.defaultMode });
    this.sessions.setSandbox(sessionId, policy);
  }

  /** The file policy of a session's file calls: its default sandbox, else the server's. */
  filePolicyFor(sessionId: string): FileAccessPolicy {
    return this.filePolicyOf(this.sessions.sandboxOf(sessionId));
  }

  /** The file policy of an explicit sandbox (a front door whose calls each carry one). */
  filePolicyOf(policy: SandboxPolicy | undefined, cwd = this.defaultCwd): FileAccessPolicy {
    return withoutProc(fileAccessPolicy(resolveSandboxPolicy(policy, { cwd, defaultMode: this.defaultMode })));
  }

  /** Start a process, owned by a session when one is named (it must exist). */
  async startProcess(
    processId: string,
    spec: ProcessSpec | undefined,
    options: { sessionId?: string; signal?: AbortSignal } = {},
  ): Promise<{ process: ManagedProcess; created: boolean }> {
    if (options.sessionId) this.sessions.get(options.sessionId);
    return this.processes.start(processId, spec, { ...options, sessions: this.sessions });
  }

  // The facade the transports call (gRPC handlers, the Codex front door): one method per
  // operation, delegating with the manager's own signature, so no handler reaches into
  // ProcessManager or SessionManager and the core can change behind these names.

  /** A process by id, once a Start still in flight for it has ended (Attach may follow Start closely). */
  startedProcess(processId: string): Promise<ManagedProcess> {
    return this.processes.started(processId);
  }

  getProcess(processId: string): ManagedProcess {
    return this.processes.get(processId);
  }

  listProcesses(...args: Parameters<ProcessManager["list"]>): ReturnType<ProcessManager["list"]> {
    return this.processes.list(...args);
  }

  writeStdin(...args: Parameters<ProcessManager["write"]>): ReturnType<ProcessManager["write"]> {
    return this.processes.write(...args);
  }

  writeStdinStream(...args: Parameters<ProcessManager["writeStream"]>): ReturnType<ProcessManager["writeStream"]> {
    return this.processes.writeStream(...args);
  }

  signalProcess(...args: Parameters<ProcessManager["signal"]>): void {
    this.processes.signal(...args);
  }

  resizeProcess(...args: Parameters<ProcessManager["resize"]>): void {
    this.processes.resize(...args);
  }

  terminateProcess(...args: Parameters<ProcessManager["terminate"]>): ReturnType<ProcessManager["terminate"]> {
    return this.processes.terminate(...args);
  }

  waitProcess(...args: Parameters<ProcessManager["wait"]>): ReturnType<ProcessManager["wait"]> {
    return this.processes.wait(...args);
  }

  openSession(...args: Parameters<SessionManager["open"]>): ReturnType<SessionManager["open"]> {
    return this.sessions.open(...args);
  }

  /** The session, or undefined when there is none by that id. */
  findSession(sessionId: string): Session | undefined {
    return this.sessions.has(sessionId) ? this.sessions.get(sessionId) : undefined;
  }

  sessionEvents(...args: Parameters<SessionManager["events"]>): ReturnType<SessionManager["events"]> {
    return this.sessions.events(...args);
  }

  /** Closes a session and kills its processes; answers how many were killed. */
  closeSession(...args: Parameters<SessionManager["close"]>): ReturnType<SessionManager["close"]> {
    return this.sessions.close(...args);
  }

  incrementElicitation(sessionId: string): number {
    return this.sessions.incrementElicitation(sessionId);
  }

  decrementElicitation(sessionId: string): number {
    return this.sessions.decrementElicitation(sessionId);
  }

  decide(...args: Parameters<SessionManager["decide"]>): void {
    this.sessions.decide(...args);
  }

  decideNetwork(...args: Parameters<SessionManager["decideNetwork"]>): void {
    this.sessions.decideNetwork(...args);
  }

  /** Kills every process this server owns; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.sessions.closeAll();
      await this.processes.close();
      await this.cgroups?.close();
      await this.#zshFork?.close();
      await this.#sandboxer.close();
      if (this.#ownsRuntimeDir) await rm(this.runtimeDir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
