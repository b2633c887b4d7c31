// How a thread's environment is opened: on an exec server the thread's exec session has a
// stable id derived from the thread (recorded in its rollout), outlives the agent for a
// detached TTL, and runs with the thread's sandbox as its default, so an agent that
// restarted (or unloaded an idle thread) reattaches to the same session and finds the
// model's long-lived processes again. In-process and container environments cannot be
// reattached: they get a fresh session with the same TTL and sandbox.
import type { Environment, SandboxPolicyInit } from "../../clients/environment/environment.js";
import { parseEnvTarget } from "../../clients/environment/env-target.js";
import type { EarlyFiles } from "../../clients/environment/lazy-environment.js";
import { type OpenOptions, openEnvironment } from "../../clients/environment/open-environment.js";
import { readFile } from "../common/fs-async.js";
import { ErrorCode, TetherError } from "../common/tether-error.js";
import type { SandboxMode } from "./policy/approval-types.js";
import { sandboxPolicyFor } from "./tools/unified-exec/exec-sandbox.js";

/** How long a thread's exec session (and its processes) outlives the agent's connection. */
export const DEFAULT_EXEC_DETACHED_TTL_MS = 60 * 60_000;

export interface OpenEnvironmentRequest {
  target: string;
  cwd: string;
  sandbox: SandboxMode;
  threadId: string;
  /** The thread's exec session: opened, or reopened on resume (a fork has its own). */
  execSessionId: string;
  detachedTtlMs: number;
  /** The thread's sandbox, as the session's default (file calls, processes that name none). */
  defaultSandbox: SandboxPolicyInit;
}

/**
 * A thread's sandbox as its exec session's default. It governs file calls (apply_patch, reads);
 * commands always name their own sandbox, network rules included, so it carries no proxy.
 */
export function sessionSandboxFor(mode: SandboxMode, writableRoots: readonly string[]): SandboxPolicyInit {
  const { network: _network, ...policy } = sandboxPolicyFor(mode, writableRoots, false);
  return policy;
}

/** The exec session id of a thread: stable, so a resume finds it; within Start's id grammar. */
export function execSessionIdFor(threadId: string): string {
  return `agent.${threadId.replace(/[^A-Za-z0-9._:-]/g, "_")}`.slice(0, 128);
}

/** Whether the target's sessions live in an exec server the agent can reconnect to. */
export function canReattach(target: string): boolean {
  try {
    const kind = parseEnvTarget(target).kind;
    return kind === "unix" || kind === "grpc" || kind === "grpcs";
  } catch {
    return false; // a name only a custom opener understands
  }
}

/** An exec server's credentials: a bearer token, and the CA file a grpcs:// server is checked with (else the system's). */
export type EnvironmentCredentials = Pick<OpenOptions, "token" | "caFile">;

/** openEnvironment's options for a thread (credentials are the caller's). */
export function threadOpenOptions(request: OpenEnvironmentRequest, credentials: EnvironmentCredentials = {}): OpenOptions {
  return {
    ...credentials,
    ...(canReattach(request.target) ? { sessionId: request.execSessionId } : {}),
    detachedTtlMs: request.detachedTtlMs,
    defaultSandbox: request.defaultSandbox,
  };
}

/** The default opener (the `--env` grammar), with the thread's session, TTL and sandbox. */
export function openThreadEnvironment(
  request: OpenEnvironmentRequest,
  credentials: EnvironmentCredentials = {},
  how: Pick<OpenOptions, "transport"> = {},
): Promise<Environment> {
  return openEnvironment(request.target, { ...threadOpenOptions(request, credentials), ...how });
}

/**
 * The thread's exec session on its exec server, opened on the lean client so the first model
 * request can read AGENTS.md before a full client is loaded (LazyEnvironmentInit.early).
 * Only for a new session: the full opening (with the same credentials) resumes it as it is.
 */
export async function openEarlyThreadSession(request: OpenEnvironmentRequest, opts: { signal?: AbortSignal; credentials?: EnvironmentCredentials } = {}): Promise<EarlyFiles> {
  const target = parseEnvTarget(request.target);
  if (target.kind !== "unix" && target.kind !== "grpc" && target.kind !== "grpcs") {
    throw new TetherError(ErrorCode.InvalidArgument, `an early session needs an exec server, not ${request.target}`);
  }
  const { token, caFile } = opts.credentials ?? {};
  // As openEnvironment checks and reads them (its errors, word for word).
  if (target.kind === "grpc" && caFile) throw new TetherError(ErrorCode.InvalidArgument, "--ca-file only applies to grpcs:// (TLS) environments");
  const caPem = caFile ? await readFile(caFile).catch((e: unknown) => { throw TetherError.from(e, `--ca-file ${caFile}`); }) : undefined;
  const { openEarlySession } = await import("../../clients/environment/early-session.js");
  return openEarlySession(target, { sessionId: request.execSessionId, detachedTtlMs: request.detachedTtlMs, defaultSandbox: request.defaultSandbox, signal: opts.signal, token, caPem });
}
