// Facts about the machine behind an exec server, gathered once at start-up, so a
// client adapts to what it can do instead of guessing.
import { create } from "@bufbuild/protobuf";
import { accessSync, constants } from "node:fs";
import os from "node:os";
import { Capability, type GetInfoResponse, GetInfoResponseSchema } from "../../gen/tether/exec/v1/environment_pb.js";
import { packageVersion } from "../common/package-info.js";
import type { ProcessLimits } from "./process/process-manager.js";

export type EnvironmentFacts = GetInfoResponse;

const PROTOCOL_VERSION = "tether.exec.v1";

function firstExecutable(candidates: string[]): string | undefined {
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not there or not executable: try the next shell.
    }
  }
  return undefined;
}

export async function detectEnvironment(init: {
  defaultCwd: string;
  limits: ProcessLimits;
  defaultDetachedTtlMs: number;
  extraCapabilities?: Capability[];
  unavailable?: Record<string, string>;
}): Promise<EnvironmentFacts> {
  const shell = firstExecutable([process.env.SHELL ?? "", "/bin/bash", "/bin/zsh", "/bin/sh"].filter(Boolean)) ?? "/bin/sh";
  return create(GetInfoResponseSchema, {
    os: os.platform(),
    arch: os.arch(),
    kernelRelease: os.release(),
    hostname: os.hostname(),
    defaultShell: shell,
    homeDir: os.homedir(),
    defaultCwd: init.defaultCwd,
    serverVersion: packageVersion(),
    protocolVersion: PROTOCOL_VERSION,
    capabilities: [
      Capability.PTY,
      Capability.SESSIONS,
      Capability.CPU_TIME,
      Capability.FS_WATCH,
      ...(init.extraCapabilities ?? []),
    ],
    limits: {
      maxProcesses: init.limits.maxRunning,
      maxRetainedBytesPerProcess: BigInt(init.limits.maxRetainedBytesPerProcess),
      maxRetainedBytesTotal: BigInt(init.limits.maxRetainedBytesTotal),
      maxWriteBytes: BigInt(init.limits.maxWriteBytes),
      maxMessageBytes: BigInt(init.limits.maxWriteBytes + (1 << 20)),
      defaultDetachedTtlMs: init.defaultDetachedTtlMs,
    },
    unavailable: init.unavailable ?? {},
  });
}
