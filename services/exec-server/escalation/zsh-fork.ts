// zsh-fork: a command line runs in stock zsh with the escalation shim preloaded; every
// program the shell execs is put to the owning session's controller (DecideFn) through
// one escalation broker per exec server. Anything that goes wrong answers "deny".
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { ErrorCode, TetherError, cancelled, throwIfAborted } from "../../common/tether-error.js";
import type { Clock } from "../process/stopwatch.js";
import type { BrokerProcess, BrokerRequest } from "./broker-process.js";
import type { DecideFn, DecisionResult, ExecIntercept } from "./escalation-types.js";

const SHIM_FILE = "tether-escalation-shim.so";
const BROKER_FILE = "tether-escalation-broker";
const SOCKET_ENV = "TETHER_ESCALATION_SOCKET";
const TOKEN_ENV = "TETHER_ESCALATION_TOKEN";
/** sun_path is 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;

export interface ZshForkLaunch {
  /** zsh. */
  file: string;
  /** execve-style: argv[0] is the program name. */
  argv: string[];
  env: Record<string, string>;
  /** The socket and the shim, to be bound into a bwrap sandbox at the same paths. */
  extraBinds: { path: string; writable: boolean }[];
  /**
   * Forgets the process: its pending and later requests are denied, pending decisions
   * aborted and its escalated commands killed. Idempotent.
   */
  dispose(): Promise<void>;
}

export interface ZshForkBrokerOptions {
  /** A private (0700) directory of the exec server; the broker's socket dir is made inside. */
  runtimeDir: string;
  /** Where scripts/build-native.sh put the shim and the broker (build/native). */
  nativeDir: string;
  zshPath?: string;
  /** Drives the broker's kill timer on close. */
  clock?: Clock;
}

interface Registration {
  processId: string;
  decide: DecideFn;
  pending: Set<AbortController>;
}

export class ZshForkBroker implements AsyncDisposable {
  readonly #o: ZshForkBrokerOptions;
  readonly #tokens = new Map<string, Registration>();
  readonly #inflight = new Map<number, AbortController>();
  #dir: Promise<string> | undefined;
  #broker: Promise<BrokerProcess> | undefined;
  #closed = false;

  constructor(options: ZshForkBrokerOptions) {
    this.#o = options;
  }

  /** Whether zsh-fork can work with these binaries on this machine, and if not, why. */
  static async available(nativeDir: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    if ((await findZsh()) === undefined) return { ok: false, reason: "zsh is not installed (apt-get install zsh)" };
    for (const [file, mode] of [[SHIM_FILE, fs.constants.R_OK], [BROKER_FILE, fs.constants.X_OK]] as const) {
      try {
        await fs.access(path.join(nativeDir, file), mode);
      } catch {
        return { ok: false, reason: `${path.join(nativeDir, file)} is missing: run scripts/build-native.sh` };
      }
    }
    return { ok: true };
  }

  async prepare(
    processId: string,
    commandLine: string,
    decide: DecideFn,
    env: Record<string, string>,
    options: { signal?: AbortSignal } = {},
  ): Promise<ZshForkLaunch> {
    throwIfAborted(options.signal);
    if (this.#closed) throw new TetherError(ErrorCode.FailedPrecondition, "the zsh-fork broker is closed: the exec server is shutting down");
    const zsh = this.#o.zshPath ?? (await findZsh());
    if (zsh === undefined) throw new TetherError(ErrorCode.FailedPrecondition, "zsh is not installed: install zsh to use the ZSH_FORK shell");
    const shim = path.resolve(this.#o.nativeDir, SHIM_FILE);
    await fs.access(shim, fs.constants.R_OK).catch((err: unknown) => {
      throw new TetherError(ErrorCode.FailedPrecondition, `escalation shim ${shim} is missing: run scripts/build-native.sh`, { cause: err });
    });
    if (/[: ]/.test(shim)) {
      throw new TetherError(ErrorCode.FailedPrecondition, `escalation shim path ${shim} contains ':' or ' ', which LD_PRELOAD cannot carry: move build/native`);
    }
    await this.#ensureBroker();
    throwIfAborted(options.signal);
    const socketPath = path.join(await this.#socketDir(), "broker.sock");

    const token = randomBytes(24).toString("hex");
    const registration: Registration = { processId, decide, pending: new Set() };
    this.#tokens.set(token, registration);
    const preload = env.LD_PRELOAD ? `${shim}:${env.LD_PRELOAD}` : shim;
    let disposed = false;
    return {
      file: zsh,
      argv: [zsh, "-f", "-c", commandLine],
      env: { ...env, LD_PRELOAD: preload, [SOCKET_ENV]: socketPath, [TOKEN_ENV]: token },
      extraBinds: [
        { path: socketPath, writable: true },
        { path: shim, writable: false },
      ],
      dispose: async () => {
        if (disposed) return;
        disposed = true;
        this.#tokens.delete(token);
        for (const ac of registration.pending) ac.abort(cancelled(`process ${processId} ended`));
        const broker = this.#broker;
        if (broker) await broker.then((b) => b.forget(token), () => undefined);
      },
    };
  }

  /** Stops the broker (killing every escalated command) and removes its socket dir. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#tokens.clear();
    for (const ac of this.#inflight.values()) ac.abort(cancelled("the zsh-fork broker is closing"));
    const broker = this.#broker;
    this.#broker = undefined;
    if (broker) await broker.then((b) => b.close(), () => undefined);
    const dir = this.#dir;
    if (dir) await dir.then((d) => fs.rm(d, { recursive: true, force: true }), () => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #socketDir(): Promise<string> {
    this.#dir ??= (async () => {
      await fs.mkdir(this.#o.runtimeDir, { recursive: true, mode: 0o700 });
      const dir = await fs.mkdtemp(path.join(this.#o.runtimeDir, "esc-"));
      await fs.chmod(dir, 0o700);
      if (path.join(dir, "broker.sock").length > MAX_SOCKET_PATH) {
        throw new TetherError(ErrorCode.InvalidArgument, `runtime dir ${this.#o.runtimeDir} is too long for a Unix socket path: use a shorter one`);
      }
      return dir;
    })();
    return this.#dir;
  }

  /** Starts the broker on first use, and again if the previous one died. */
  async #ensureBroker(): Promise<BrokerProcess> {
    if (!this.#broker) {
      const starting = (async () => {
        const socketPath = path.join(await this.#socketDir(), "broker.sock");
        // Loaded on first use: its zod schemas pull in all of zod, a large share of the exec
        // server's start-up for a shell few sessions use.
        const { BrokerProcess } = await import("./broker-process.js");
        return BrokerProcess.start(path.resolve(this.#o.nativeDir, BROKER_FILE), socketPath, {
          onRequest: (req) => this.#onRequest(starting, req),
          onCancel: (id) => this.#inflight.get(id)?.abort(cancelled("the shell stopped waiting")),
          onExit: (err) => {
            console.error(`zsh-fork: ${err.message}; shells fail closed until the next start`);
            if (this.#broker === starting) this.#broker = undefined;
            for (const ac of this.#inflight.values()) ac.abort(err);
          },
        }, this.#o.clock);
      })();
      this.#broker = starting;
      starting.catch(() => {
        if (this.#broker === starting) this.#broker = undefined;
      });
    }
    return this.#broker;
  }

  #onRequest(broker: Promise<BrokerProcess>, req: BrokerRequest): void {
    void (async () => {
      const b = await broker;
      const reg = this.#tokens.get(req.token);
      if (!reg) {
        b.answer(req.id, { decision: "deny", reason: "unknown escalation token: this shell does not belong to a running process" });
        return;
      }
      const ac = new AbortController();
      this.#inflight.set(req.id, ac);
      reg.pending.add(ac);
      try {
        const result = await decideSafely(reg.decide, toIntercept(reg.processId, req), ac.signal);
        if (!ac.signal.aborted) b.answer(req.id, result);
      } finally {
        this.#inflight.delete(req.id);
        reg.pending.delete(ac);
      }
    })().catch((err: unknown) => {
      // The shell is left waiting until it or the broker goes away; say why.
      console.error(`zsh-fork: request ${req.id} for ${req.file} was not answered: ${TetherError.from(err).message}`);
    });
  }
}

function toIntercept(processId: string, req: BrokerRequest): ExecIntercept {
  const env: Record<string, string> = {};
  for (const entry of req.env) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { processId, file: req.file, argv: req.argv, cwd: req.cwd, env };
}

/** Any failure of the controller becomes a deny that says why: fail closed. */
async function decideSafely(decide: DecideFn, req: ExecIntercept, signal: AbortSignal): Promise<DecisionResult> {
  try {
    const result = await decide(req, signal);
    if (result.decision === "run" || result.decision === "escalate" || result.decision === "deny") return result;
    return { decision: "deny", reason: `the controller answered an unknown decision ${JSON.stringify(result.decision)}` };
  } catch (err) {
    return { decision: "deny", reason: `no decision for ${req.file}: ${TetherError.from(err).message}` };
  }
}

async function findZsh(): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/bin", "/bin", "/usr/local/bin"];
  for (const dir of dirs) {
    const candidate = path.join(dir, "zsh");
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  return undefined;
}
