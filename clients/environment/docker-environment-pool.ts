// Opt-in warm pool of container environments: containers started ahead of time, each with its
// exec server answering and a session open, handed out by take() and replaced in the
// background. Start-up then costs nothing at take() time, at the price of idle containers.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { type DockerEnvironment, type DockerEnvironmentOptions, startDockerEnvironment } from "./docker-provider.js";

export interface DockerEnvironmentPoolOptions extends Omit<DockerEnvironmentOptions, "name" | "signal"> {
  /** How many started environments wait for take(); default 1. */
  size?: number;
}

export class DockerEnvironmentPool implements AsyncDisposable {
  readonly #options: DockerEnvironmentPoolOptions;
  readonly #size: number;
  /** Started (or starting) environments nobody has taken yet. */
  readonly #idle: Promise<DockerEnvironment>[] = [];
  #closed = false;

  constructor(options: DockerEnvironmentPoolOptions = {}) {
    this.#options = options;
    this.#size = Math.max(1, options.size ?? 1);
    this.#fill();
  }

  /** A started environment; its close() removes its container as usual. */
  async take(): Promise<DockerEnvironment> {
    if (this.#closed) throw new TetherError(ErrorCode.FailedPrecondition, "the docker environment pool is closed");
    const next = this.#idle.shift() ?? this.#start();
    this.#fill();
    return next;
  }

  /** Settles once every environment the pool holds has started (or failed to). */
  async ready(): Promise<void> {
    await Promise.allSettled(this.#idle);
  }

  /** Closes the environments nobody took (those still starting once they are up). */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    await Promise.all(
      idle.map(async (starting) => {
        const env = await starting.catch(() => undefined); // a failed start left nothing behind
        if (!env) return;
        await env.close();
        await env.removed;
      }),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #fill(): void {
    while (!this.#closed && this.#idle.length < this.#size) this.#idle.push(this.#start());
  }

  #start(): Promise<DockerEnvironment> {
    const starting = startDockerEnvironment(this.#options);
    // Whoever takes it sees a failure; until then it must not count as unhandled.
    starting.catch((err: unknown) => this.#options.log?.(`docker pool: an environment failed to start: ${TetherError.from(err).message}`));
    return starting;
  }
}
