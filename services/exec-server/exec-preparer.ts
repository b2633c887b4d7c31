// Turns a process spec into what the launcher execs: zsh-fork wrapping first (the
// shell and its shim), then the sandbox around it. A sandbox that was asked for and
// cannot be built fails the Start; nothing runs unsandboxed by surprise.
import { ShellMode } from "../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../common/tether-error.js";
import type { DecideFn } from "./escalation/escalation-types.js";
import type { CommandPreparer, PrepareInput, PreparedCommand } from "./process/process-manager.js";
import { type SandboxModeName, resolveSandboxPolicy } from "./sandbox/sandbox-policy.js";
import { type Sandboxer, needsSandbox } from "./sandbox/sandboxer.js";
import type { NetworkProxyOptions } from "./sandbox/network-proxy.js";
import type { SessionPolicySource } from "./session/session-policy-source.js";

/** What zsh-fork needs from the escalation broker (see escalation/zsh-fork.ts). */
export interface ZshForkLauncher {
  prepare(
    processId: string,
    commandLine: string,
    decide: DecideFn,
    env: Record<string, string>,
  ): Promise<{ file: string; argv: string[]; env: Record<string, string>; extraBinds: { path: string; writable: boolean }[]; dispose(): Promise<void> }>;
}

export interface ExecPreparerOptions {
  sandboxer: Sandboxer;
  defaultMode: SandboxModeName;
  zshFork?: ZshForkLauncher;
  zshForkUnavailable?: string;
}

const MAX_DENIALS = 16;

/** A process started without a session: no default sandbox, and nobody to ask (every question is denied). */
const NO_SESSIONS: SessionPolicySource = {
  sandboxOf: () => undefined,
  requestDecision: async () => ({ decision: "deny", reason: "the process has no session to ask" }),
  requestNetworkDecision: async () => ({ decision: "deny", reason: "the process has no session to ask" }),
};

export class ExecPreparer implements CommandPreparer {
  readonly #o: ExecPreparerOptions;

  constructor(options: ExecPreparerOptions) {
    this.#o = options;
  }

  async prepare(input: PrepareInput, signal?: AbortSignal): Promise<PreparedCommand> {
    const sessions = input.sessions ?? NO_SESSIONS;
    const policy = input.spec.sandbox ?? sessions.sandboxOf(input.sessionId);
    const sandbox = resolveSandboxPolicy(policy, { cwd: input.cwd, defaultMode: this.#o.defaultMode });
    let file = input.file;
    let argv = input.spec.argv;
    let env = input.env;
    let extraBinds: { path: string; writable: boolean }[] = [];
    let disposeShell = async () => {};
    if (input.spec.shell === ShellMode.ZSH_FORK) {
      if (!this.#o.zshFork) {
        throw new TetherError(ErrorCode.FailedPrecondition, `shell ZSH_FORK is not available here: ${this.#o.zshForkUnavailable ?? "not configured"}`);
      }
      const launch = await this.#o.zshFork.prepare(input.processId, argv[0]!, (req, sig) => sessions.requestDecision(input.sessionId, req, sig), env);
      ({ file, argv, env, extraBinds } = launch);
      disposeShell = () => launch.dispose();
    }
    if (file === undefined) throw new TetherError(ErrorCode.Internal, "no program was resolved for this process");
    if (!needsSandbox(sandbox)) return { file, argv, env, dispose: disposeShell };
    // Bounded: the first refusals say what happened; a retry loop must not grow this.
    const denials: string[] = [];
    const ask: NonNullable<NetworkProxyOptions["ask"]> = async (req, sig) => {
      const answer = await sessions.requestNetworkDecision(input.sessionId, { processId: input.processId, ...req }, sig);
      return { allowed: answer.decision !== "deny", reason: answer.reason };
    };
    const proxyOwner = {
      id: `${input.sessionId}/${input.processId}`,
      ask,
      onDenied: (what: string) => void (denials.length < MAX_DENIALS && denials.push(what)),
    };
    try {
      const wrapped = await this.#o.sandboxer.wrap(sandbox, { file, argv, cwd: input.cwd, env }, { signal, extraBinds, tty: input.spec.tty !== undefined, proxyOwner });
      return {
        file: wrapped.argv[0]!,
        argv: wrapped.argv,
        env: wrapped.env,
        sandbox: { restrictsWrites: sandbox.mode !== "full-access" || sandbox.rules.length > 0, denials: () => denials },
        dispose: async () => {
          await wrapped.dispose();
          await disposeShell();
        },
      };
    } catch (err) {
      await disposeShell();
      throw err;
    }
  }
}
