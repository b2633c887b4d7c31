// What every conformance file shares: one backend instance per file and backend, a
// scratch directory on the environment (its file system, not ours), and small readers
// over Attach streams that wait on output instead of time.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { AttachResponse, ExitStatus } from "../../gen/tether/exec/v1/process_pb.js";
import type { Environment, ProcessSpecInit } from "../../clients/environment/environment.js";
import { type Backend, type BackendInstance, type BackendOptions, backendsToRun } from "../support/backends.js";
export { failure } from "../support/failure.js";

export interface BackendContext {
  readonly backend: Backend;
  /** The environment; valid inside tests. */
  readonly env: Environment;
  /** A fresh absolute directory on the environment, removed afterwards. */
  readonly dir: string;
  /** Another session on the same exec server (e.g. with a default sandbox); closed with the suite. */
  openSession(options: BackendOptions): Promise<Environment>;
}

const runnable = await backendsToRun();

/**
 * Runs `body` once per backend, inside a describe named for it. Skipped backends show
 * one skipped test carrying the reason.
 */
export function forEachBackend(title: string, body: (ctx: BackendContext) => void): void {
  describe.each(runnable)(`${title} on $name`, (backend) => {
    if (backend.skip !== undefined) {
      it.skip(`skipped: ${backend.skip}`, () => {});
      return;
    }
    let instance: BackendInstance | undefined;
    let env: Environment | undefined;
    let dir: string | undefined;
    beforeAll(async () => {
      instance = await backend.create();
      env = instance.env;
      dir = `/tmp/tether-conformance-${randomBytes(6).toString("hex")}`;
      await env.files.makeDir(dir, { parents: true });
      // Canonical, so paths the server reports compare equal to ours.
      dir = await env.files.canonicalize(dir);
    });
    afterAll(async () => {
      if (env && dir) await env.files.remove(dir, { recursive: true, force: true }).catch((err: unknown) => console.warn(`cleanup of ${dir} on ${backend.name}: ${String(err)}`));
      await instance?.cleanup();
    });
    body({
      backend,
      get env() {
        if (!env) throw new Error(`the ${backend.name} backend did not start`);
        return env;
      },
      get dir() {
        if (!dir) throw new Error(`the ${backend.name} backend did not start`);
        return dir;
      },
      openSession(options) {
        if (!instance) throw new Error(`the ${backend.name} backend did not start`);
        return instance.openSession(options);
      },
    });
  });
}

export function newId(prefix = "p"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

export interface Collected {
  events: AttachResponse[];
  stdout: string;
  stderr: string;
  pty: string;
  exit: ExitStatus;
}

/** Attaches and reads to the exit event. */
export async function collect(env: Environment, processId: string, opts: { afterSeq?: number; allowGaps?: boolean } = {}): Promise<Collected> {
  const events: AttachResponse[] = [];
  const parts: Record<number, Buffer[]> = { 1: [], 2: [], 3: [] };
  let exit: ExitStatus | undefined;
  for await (const ev of env.processes.attach(processId, opts)) {
    events.push(ev);
    if (ev.event.case === "output") parts[ev.event.value.stream]?.push(Buffer.from(ev.event.value.data));
    if (ev.event.case === "exited") exit = ev.event.value.status;
  }
  if (!exit) throw new Error(`attach to ${processId} ended without an exit event`);
  const text = (n: number) => Buffer.concat(parts[n]!).toString("utf8");
  return { events, stdout: text(1), stderr: text(2), pty: text(3), exit };
}

/** Starts a process under a fresh id and reads it to the end. */
export async function run(env: Environment, spec: ProcessSpecInit): Promise<Collected & { processId: string }> {
  const processId = newId();
  await env.processes.start(processId, spec);
  return { processId, ...(await collect(env, processId)) };
}

/** Reads one Attach stream incrementally: `until` waits for output matching a test. */
export class OutputReader {
  text = "";
  exit: ExitStatus | undefined;
  readonly #it: AsyncIterator<AttachResponse>;

  constructor(stream: AsyncIterable<AttachResponse>) {
    this.#it = stream[Symbol.asyncIterator]();
  }

  async until(test: RegExp | string): Promise<string> {
    const ok = () => (typeof test === "string" ? this.text.includes(test) : test.test(this.text));
    while (!ok()) {
      if (this.exit) throw new Error(`exited before output matched ${String(test)}; output: ${JSON.stringify(this.text.slice(-500))}`);
      await this.#step();
    }
    return this.text;
  }

  async toExit(): Promise<ExitStatus> {
    while (!this.exit) await this.#step();
    return this.exit;
  }

  async #step(): Promise<void> {
    const r = await this.#it.next();
    if (r.done) throw new Error(`stream ended without an exit event; output: ${JSON.stringify(this.text.slice(-500))}`);
    const ev = r.value;
    if (ev.event.case === "output") this.text += Buffer.from(ev.event.value.data).toString("utf8");
    if (ev.event.case === "exited") this.exit = ev.event.value.status;
  }
}


export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
