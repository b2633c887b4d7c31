// Drives one tether-escalation-broker (C): spawns it, reads its JSON-line requests and
// cancels, writes decisions back. Node cannot pass fds over Unix sockets, so the broker
// holds the shells' stdio and runs escalated commands; this side only decides.
import { spawn, type ChildProcess } from "node:child_process";
import * as z from "zod";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { type Clock, systemClock } from "../process/stopwatch.js";
import type { DecisionResult } from "./escalation-types.js";

/** One exec a shell asked about, as the broker reports it (env as "K=V" strings). */
export interface BrokerRequest {
  id: number;
  token: string;
  file: string;
  cwd: string;
  argv: string[];
  env: string[];
}

export interface BrokerHandlers {
  onRequest(req: BrokerRequest): void;
  /** The shell hung up before its decision was sent. */
  onCancel(id: number): void;
  /** The broker exited; shells connecting now fail closed until a new broker starts. */
  onExit(error: TetherError): void;
}

const requestLine = z.object({
  type: z.literal("request"),
  id: z.number().int().nonnegative(),
  token: z.string(),
  file: z.string(),
  cwd: z.string(),
  argv: z.array(z.string()),
  env: z.array(z.string()),
});
const otherLine = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("cancel"), id: z.number().int().nonnegative() }),
]);

/** The broker caps a request at 8 MiB raw; JSON escaping can grow it, never past this. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Kept from the broker's stderr for the exit error. */
const MAX_STDERR_BYTES = 8 * 1024;

export class BrokerProcess {
  readonly #proc: ChildProcess;
  readonly #handlers: BrokerHandlers;
  readonly #ready: Promise<void>;
  /** Resolves when the broker has exited (or never started). */
  readonly exited: Promise<void>;
  #onReady: () => void = () => {};
  #stderr = "";
  readonly #clock: Clock;
  #started = false;
  #closing = false;

  private constructor(binary: string, socketPath: string, handlers: BrokerHandlers, clock: Clock) {
    this.#handlers = handlers;
    this.#clock = clock;
    this.#proc = spawn(binary, [socketPath], { stdio: ["pipe", "pipe", "pipe"] });
    let fail: (err: TetherError) => void = () => {};
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#onReady = resolve;
      fail = reject;
    });
    this.exited = new Promise<void>((resolve) => {
      this.#proc.once("error", (err) => {
        fail(TetherError.from(err, `cannot start the escalation broker ${binary}; run scripts/build-native.sh`));
        resolve();
      });
      this.#proc.once("close", (code, sig) => {
        const why = sig ? `signal ${sig}` : `code ${code}`;
        const stderr = this.#stderr.trim();
        const err = new TetherError(ErrorCode.Unavailable, `escalation broker exited (${why})${stderr ? `: ${stderr}` : ""}`);
        fail(err);
        if (this.#started && !this.#closing) handlers.onExit(err);
        resolve();
      });
    });
    this.#readLines();
    this.#proc.stderr?.setEncoding("utf8");
    this.#proc.stderr?.on("data", (text: string) => {
      // Keep the tail: the last words explain an exit best.
      this.#stderr = (this.#stderr + text).slice(-MAX_STDERR_BYTES);
    });
    // A broker that died makes writes fail with EPIPE; the close handler reports it.
    this.#proc.stdin?.on("error", () => {});
  }

  /** Resolves once the broker listens on socketPath. */
  static async start(binary: string, socketPath: string, handlers: BrokerHandlers, clock: Clock = systemClock): Promise<BrokerProcess> {
    const broker = new BrokerProcess(binary, socketPath, handlers, clock);
    await broker.#ready;
    broker.#started = true;
    return broker;
  }

  /** Sends the decision for request `id`; a decision for a shell that already left is ignored by the broker. */
  answer(id: number, result: DecisionResult): void {
    this.#send({ id, decision: result.decision, reason: result.reason ?? "" });
  }

  /** The process behind `token` ended: the broker denies its waiting shells and kills its escalated commands. */
  forget(token: string): void {
    this.#send({ type: "forget", token });
  }

  #send(message: Record<string, unknown>): void {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null || !this.#proc.stdin?.writable) return;
    this.#proc.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** Ends the broker: EOF on its stdin makes it kill every escalated tree and exit. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#proc.stdin?.end();
    const timer = this.#clock.setTimeout(() => this.#proc.kill("SIGKILL"), 5_000);
    try {
      await this.exited;
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  #readLines(): void {
    const stdout = this.#proc.stdout;
    if (!stdout) return;
    let chunks: Buffer[] = [];
    let size = 0;
    stdout.on("data", (data: Buffer) => {
      let start = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        chunks.push(data.subarray(start, nl));
        const line = Buffer.concat(chunks).toString("utf8");
        chunks = [];
        size = 0;
        start = nl + 1;
        this.#onLine(line);
      }
      if (start < data.length) {
        chunks.push(data.subarray(start));
        size += data.length - start;
        if (size > MAX_LINE_BYTES) {
          // The broker bounds its lines; an endless one means it is broken.
          chunks = [];
          size = 0;
          this.#proc.kill("SIGKILL");
        }
      }
    });
  }

  #onLine(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      console.error(`escalation broker wrote a line that is not JSON (ignored): ${TetherError.from(err).message}`);
      return;
    }
    const req = requestLine.safeParse(value);
    if (req.success) {
      this.#handlers.onRequest(req.data);
      return;
    }
    const other = otherLine.safeParse(value);
    if (!other.success) {
      console.error(`escalation broker wrote an unknown line (ignored): ${line.slice(0, 200)}`);
      return;
    }
    if (other.data.type === "ready") this.#onReady();
    else this.#handlers.onCancel(other.data.id);
  }
}
