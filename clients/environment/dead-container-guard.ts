// Makes a container environment's calls fail with the container's name and state once it is
// gone (instead of a generic connection error), and at once after its death.
import type Dockerode from "dockerode";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Environment } from "./environment.js";
import { statusOf } from "./docker-error.js";

/**
 * Calls that fail while the container is gone say so (name and state) instead of the
 * generic connection error, and calls made after its death fail at once.
 */
export class DeadContainerGuard {
  readonly #container: Dockerode.Container;
  readonly #name: string;
  /** Rejecters of the calls in flight; a settled call removes its own (no growth per call). */
  readonly #inFlight = new Set<(err: TetherError) => void>();
  #deadReason: TetherError | undefined;

  constructor(container: Dockerode.Container, name: string, exited: Promise<unknown>) {
    this.#container = container;
    this.#name = name;
    exited.then(
      async () => {
        const reason = await this.#explain(new TetherError(ErrorCode.Unavailable, "container exited"));
        for (const fail of this.#inFlight) fail(reason);
      },
      () => undefined, // the wait was aborted: the environment closed
    );
  }

  async #explain(err: unknown): Promise<TetherError> {
    const te = TetherError.from(err);
    if (te.code !== ErrorCode.Unavailable && te.code !== ErrorCode.Internal && te.code !== ErrorCode.Unknown) return te;
    if (this.#deadReason) return this.#deadReason;
    try {
      const info = await this.#container.inspect();
      if (info.State.Running) return te;
      this.#deadReason = new TetherError(
        ErrorCode.Unavailable,
        `docker container ${this.#name} is ${info.State.Status} (exit code ${info.State.ExitCode}${info.State.OOMKilled ? ", killed for running out of memory" : ""}): start a new environment`,
        { cause: te },
      );
    } catch (e) {
      if (statusOf(e) !== 404) return te;
      this.#deadReason = new TetherError(ErrorCode.Unavailable, `docker container ${this.#name} no longer exists (removed): start a new environment`, { cause: te });
    }
    return this.#deadReason;
  }

  guardPromise<T>(p: Promise<T>): Promise<T> {
    if (this.#deadReason) {
      p.catch(() => undefined);
      return Promise.reject(this.#deadReason);
    }
    // Not Promise.race with a shared "dead" promise: each race would stay registered on it,
    // keeping every settled value (every file chunk) alive until the container dies.
    return new Promise<T>((resolve, reject) => {
      const fail = (err: TetherError) => {
        this.#inFlight.delete(fail);
        reject(err);
      };
      this.#inFlight.add(fail);
      p.then(
        (value) => {
          this.#inFlight.delete(fail);
          resolve(value);
        },
        async (err: unknown) => {
          this.#inFlight.delete(fail);
          reject(await this.#explain(err));
        },
      );
    });
  }

  async *#guardIterable<T>(it: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = it[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.guardPromise(iterator.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Not awaited: after a failure the inner generator may still be parked in its
      // reconnect loop, and an async generator's return() queues behind that.
      void iterator.return?.()?.catch(() => undefined);
    }
  }

  #guard(value: unknown): unknown {
    if (value instanceof Promise) return this.guardPromise(value);
    if (isAsyncIterable(value)) return this.#guardIterable(value);
    // readFile: { info, chunks }
    if (typeof value === "object" && value !== null && "info" in value && "chunks" in value) {
      const v = value as { info: Promise<unknown>; chunks: AsyncIterable<unknown> };
      const info = this.guardPromise(v.info);
      info.catch(() => undefined);
      return { info, chunks: this.#guardIterable(v.chunks) };
    }
    return value;
  }

  #wrapOps<T extends object>(ops: T): T {
    const guard = (value: unknown) => this.#guard(value);
    return new Proxy(ops, {
      get(target, prop, receiver) {
        const member: unknown = Reflect.get(target, prop, receiver);
        if (typeof member !== "function") return member;
        return (...args: unknown[]) => guard(Reflect.apply(member, target, args));
      },
    });
  }

  wrap(env: Environment, close: () => Promise<void>): Environment {
    return {
      kind: env.kind,
      description: env.description,
      processes: this.#wrapOps(env.processes),
      files: this.#wrapOps(env.files),
      session: this.#wrapOps(env.session),
      info: (opts) => this.guardPromise(env.info(opts)),
      close,
      [Symbol.asyncDispose]: close,
    };
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
