// Brings up the environment a user named: connects to an exec server, or starts one
// (in-process, in a container). Providers are imported lazily, so a plain
// `tether run --env unix://…` loads neither the exec server nor Docker.
import { readFile } from "node:fs/promises";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Environment } from "./environment.js";
import { parseEnvTarget } from "./env-target.js";

export interface OpenOptions {
  token?: string;
  caFile?: string;
  /** Log provider start-up time to stderr. */
  verbose?: boolean;
}

export async function openEnvironment(text: string, options: OpenOptions = {}): Promise<Environment> {
  const target = parseEnvTarget(text);
  const started = performance.now();
  let env: Environment;
  switch (target.kind) {
    case "unix":
    case "grpc":
    case "grpcs": {
      if (target.kind === "grpc" && options.caFile) {
        throw new TetherError(ErrorCode.InvalidArgument, "--ca-file only applies to grpcs:// (TLS) environments");
      }
      const caPem = options.caFile ? await readFile(options.caFile).catch((e: unknown) => { throw TetherError.from(e, `--ca-file ${options.caFile}`); }) : undefined;
      const { GrpcEnvironment } = await import("./grpc-environment.js");
      env = await GrpcEnvironment.connect(target, { token: options.token, caPem });
      break;
    }
    case "local": {
      const { LocalEnvironment } = await import("./local-environment.js");
      env = await LocalEnvironment.create();
      break;
    }
    case "docker": {
      const { startDockerEnvironment } = await import("./docker-provider.js");
      env = await startDockerEnvironment({ image: target.image, log: options.verbose ? (msg) => process.stderr.write(`tether: ${msg}\n`) : undefined });
      break;
    }
  }
  if (options.verbose) process.stderr.write(`tether: ${env.description} ready in ${Math.round(performance.now() - started)} ms\n`);
  return env;
}
