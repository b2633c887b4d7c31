// Everything an exec server owns, wired together and transport-free: processes,
// sessions, files, sandboxing and environment facts. The in-process backend and the
// gRPC handlers both drive this object.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ProcessSpec } from "../../gen/tether/exec/v1/process_pb.js";
import { type EnvironmentFacts, detectEnvironment } from "./environment-info.js";
import { launcherPath } from "./process/launcher-path.js";
import type { ManagedProcess } from "./process/managed-process.js";
import { type CommandPreparer, type ProcessLimits, ProcessManager } from "./process/process-manager.js";
import { SessionManager } from "./session/session-manager.js";

export interface ExecCoreOptions {
  defaultCwd?: string;
  limits?: Partial<ProcessLimits>;
  defaultDetachedTtlMs?: number;
  decisionTimeoutMs?: number;
  /** Private directory for sockets and proxies; a fresh 0700 temp dir by default. */
  runtimeDir?: string;
  preparer?: CommandPreparer;
}

export class ExecCore implements AsyncDisposable {
  readonly processes: ProcessManager;
  readonly sessions: SessionManager;
  readonly runtimeDir: string;
  readonly facts: EnvironmentFacts;
  readonly #ownsRuntimeDir: boolean;
  #closing: Promise<void> | undefined;

  private constructor(init: { processes: ProcessManager; sessions: SessionManager; runtimeDir: string; ownsRuntimeDir: boolean; facts: EnvironmentFacts }) {
    this.processes = init.processes;
    this.sessions = init.sessions;
    this.runtimeDir = init.runtimeDir;
    this.#ownsRuntimeDir = init.ownsRuntimeDir;
    this.facts = init.facts;
  }

  static async create(options: ExecCoreOptions = {}): Promise<ExecCore> {
    const ownsRuntimeDir = options.runtimeDir === undefined;
    const runtimeDir = options.runtimeDir ?? (await mkdtemp(path.join(os.tmpdir(), "tether-exec-")));
    await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
    const defaultCwd = options.defaultCwd ?? process.cwd();
    const processes = new ProcessManager({
      launcherPath: launcherPath(),
      defaultCwd,
      limits: options.limits,
      preparer: options.preparer,
    });
    const sessions = new SessionManager({
      processes,
      defaultDetachedTtlMs: options.defaultDetachedTtlMs,
      decisionTimeoutMs: options.decisionTimeoutMs,
    });
    const facts = await detectEnvironment({ defaultCwd, limits: processes.limits, defaultDetachedTtlMs: sessions.defaultDetachedTtlMs });
    return new ExecCore({ processes, sessions, runtimeDir, ownsRuntimeDir, facts });
  }

  /** Start a process, owned by a session when one is named (it must exist). */
  async startProcess(
    processId: string,
    spec: ProcessSpec | undefined,
    options: { sessionId?: string; signal?: AbortSignal } = {},
  ): Promise<{ process: ManagedProcess; created: boolean }> {
    if (options.sessionId) this.sessions.get(options.sessionId);
    return this.processes.start(processId, spec, options);
  }

  /** Kills every process this server owns; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.sessions.closeAll();
      await this.processes.close();
      if (this.#ownsRuntimeDir) await rm(this.runtimeDir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
