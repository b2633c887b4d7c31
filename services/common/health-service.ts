// grpc.health.v1: the server reports SERVING for itself ("") and each tether service
// until it starts shutting down; Watch streams changes.
import * as grpc from "@grpc/grpc-js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { addService } from "./grpc-service.js";
import { ErrorCode, TetherError } from "./tether-error.js";

export class HealthStatus {
  readonly #statuses = new Map<string, Status>();
  readonly #listeners = new Set<() => void>();

  constructor(services: string[]) {
    for (const name of ["", ...services]) this.#statuses.set(name, Status.SERVING);
  }

  setAll(status: Status): void {
    for (const name of this.#statuses.keys()) this.#statuses.set(name, status);
    for (const l of this.#listeners) l();
  }

  get(service: string): Status | undefined {
    return this.#statuses.get(service);
  }

  entries(): [string, Status][] {
    return [...this.#statuses.entries()];
  }

  onChange(listener: () => void): Disposable {
    this.#listeners.add(listener);
    return { [Symbol.dispose]: () => this.#listeners.delete(listener) };
  }
}

export function addHealthService(server: grpc.Server, health: HealthStatus): void {
  addService(server, Health, {
    async check(req) {
      const status = health.get(req.service);
      if (status === undefined) throw new TetherError(ErrorCode.NotFound, `unknown service ${JSON.stringify(req.service)}`);
      return { status };
    },
    async list() {
      return { statuses: Object.fromEntries(health.entries().map(([name, status]) => [name, { status }])) };
    },
    async *watch(req, ctx) {
      let last: Status | undefined;
      for (;;) {
        const status = health.get(req.service) ?? Status.SERVICE_UNKNOWN;
        if (status !== last) yield { status };
        last = status;
        await new Promise<void>((resolve) => {
          const sub = health.onChange(() => {
            sub[Symbol.dispose]();
            resolve();
          });
          ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        if (ctx.signal.aborted) return;
      }
    },
  });
}
