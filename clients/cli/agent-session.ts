// What `tether exec` and the interactive `tether` share: flags and config resolved into the
// thread's settings (model, environment, sandbox, approvals) and an AgentClient — the agent
// in this process, or an agent server with --agent. Flags beat config; config beats defaults.
import { accessSync, constants, statSync } from "node:fs";
import { mkdtemp, rm } from "../../services/common/fs-async.js";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AgentClient, ThreadOptions } from "../agent/agent-client.js";
import type { ModelClient } from "../../services/agent-server/model/model-client.js";
import type { ApprovalPolicy } from "../../services/agent-server/policy/approval-types.js";
import { APPROVAL_POLICIES, SANDBOX_MODES, canonicalSandboxMode } from "../../services/common/config/config-values.js";
import { DEFAULT_MODEL, DEFAULT_SANDBOX } from "./agent-defaults.js";
import { type CliConfig, type ConfigFlags, loadCliConfig } from "./cli-config.js";
import { parseChoice, readSecretFile } from "./cli-options.js";
import { usageError } from "./cli-error.js";
import { TetherError } from "../../services/common/tether-error.js";
import { reasoningFromConfig } from "../../services/agent-server/model/model-client-options.js";

export interface AgentFlags extends ConfigFlags {
  model?: string;
  env?: string;
  tokenFile?: string;
  caFile?: string;
  sandbox?: string;
  cwd?: string;
  /** Codex's spelling of --cwd (hidden). */
  cd?: string;
  /** Codex's -a: the approval policy, beating config's approval_policy. */
  askForApproval?: string;
  addDir?: string[];
  dangerouslyBypassApprovalsAndSandbox?: boolean;
  agent?: string;
  agentTokenFile?: string;
  agentCaFile?: string;
  /** Codex's --ephemeral: the thread's rollout goes to a temporary directory removed at close. */
  ephemeral?: boolean;
}

export interface AgentSession {
  client: AgentClient;
  /** Settings for a new thread (resume keeps the stored ones unless a flag overrides them). */
  thread: ThreadOptions;
  /** Only what a flag set explicitly: the overrides for a resumed thread. */
  overrides: Partial<ThreadOptions>;
  config: CliConfig;
}

export async function openAgentSession(
  flags: AgentFlags,
  defaults: {
    approvalPolicy: ApprovalPolicy;
    /** Refuse (exit 2) before any thread exists when the model has no API key. */
    requireModelKey?: boolean;
    /** In process: where a `notify` program that cannot run is reported (default: a warning on the thread). */
    notifyWarning?: (message: string) => void;
  },
): Promise<AgentSession> {
  const cwd = path.resolve(flags.cwd ?? flags.cd ?? process.cwd());
  if (flags.model !== undefined && flags.model.trim() === "") throw usageError("--model is empty: name a model (e.g. -m gpt-5.5), or leave it out for config's model");
  const config = await loadCliConfig(flags, cwd);
  const c = config.config;
  const bypass = flags.dangerouslyBypassApprovalsAndSandbox === true;
  if (bypass && flags.sandbox !== undefined && canonicalSandboxMode(flags.sandbox) !== "full-access") {
    throw usageError(`--dangerously-bypass-approvals-and-sandbox runs without a sandbox: drop -s ${flags.sandbox}, or drop the bypass to keep the sandbox`);
  }
  const sandbox = bypass ? "full-access" : parseChoice("--sandbox", canonicalSandboxMode(flags.sandbox ?? c.sandbox_mode ?? DEFAULT_SANDBOX), SANDBOX_MODES);
  if (bypass && flags.askForApproval !== undefined && flags.askForApproval !== "never") {
    throw usageError(`--dangerously-bypass-approvals-and-sandbox never asks: drop -a ${flags.askForApproval}, or drop the bypass`);
  }
  const asked = flags.askForApproval !== undefined ? parseChoice("--ask-for-approval", flags.askForApproval, APPROVAL_POLICIES) : undefined;
  const approvalPolicy: ApprovalPolicy = bypass ? "never" : asked ?? (c.approval_policy ? parseChoice("approval_policy", c.approval_policy, APPROVAL_POLICIES) : defaults.approvalPolicy);
  // Codex's --add-dir: more writable roots, relative to where tether runs (as Codex resolves them).
  const addDirs = (flags.addDir ?? []).map((d) => path.resolve(d));
  const writableRoots = [...(c.sandbox_workspace_write?.writable_roots ?? []), ...addDirs];
  const thread: ThreadOptions = {
    cwd,
    environment: flags.env ?? c.default_env ?? "local",
    model: flags.model ?? c.model ?? DEFAULT_MODEL,
    sandbox,
    approvalPolicy,
    writableRoots: writableRoots.length > 0 ? writableRoots : undefined,
  };
  const overrides: Partial<ThreadOptions> = {
    ...(flags.env !== undefined ? { environment: flags.env } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.sandbox !== undefined || bypass ? { sandbox } : {}),
    ...(bypass || asked !== undefined ? { approvalPolicy } : {}),
    ...(addDirs.length > 0 ? { writableRoots } : {}),
  };
  const agentUrl = flags.agent ?? c.agent;
  // Commands run on this machine: a missing directory is the user's typo, said now rather than by
  // every command failing. (On an exec server or an agent server the path is that machine's.)
  if (!agentUrl && thread.environment === "local" && !isDirectory(cwd)) {
    throw usageError(`${flags.cwd !== undefined || flags.cd !== undefined ? "--cwd " : ""}${cwd} is not a directory: pass -C DIR with an existing directory`);
  }
  const envToken = flags.tokenFile ? await readSecretFile(flags.tokenFile, "--token-file") : undefined;
  if (flags.agentTokenFile && !agentUrl) throw usageError("--agent-token-file needs --agent");
  if (flags.agentCaFile && !agentUrl) throw usageError("--agent-ca-file needs --agent");
  if (flags.agentCaFile && !isReadable(flags.agentCaFile)) throw usageError(`--agent-ca-file ${flags.agentCaFile} cannot be read: name the PEM file of the CA that signed the agent server's certificate`);
  const agentToken = flags.agentTokenFile ? await readSecretFile(flags.agentTokenFile, "--agent-token-file") : undefined;
  if (flags.ephemeral && agentUrl) throw usageError("--ephemeral needs the agent in this process: an agent server keeps its threads (drop --agent or --ephemeral)");
  const { createAgentClient } = await import("../agent/create-agent-client.js");
  const model = agentUrl ? undefined : await modelFromConfig(config);
  const checkKey = (model as { checkApiKey?: () => void } | undefined)?.checkApiKey;
  if (defaults.requireModelKey && checkKey) {
    try {
      checkKey.call(model);
    } catch (err) {
      // Configuration, not a failed turn: said before a thread (and its rollout) is made.
      throw usageError(TetherError.from(err).message);
    }
  }
  const rolloutHome = flags.ephemeral ? await mkdtemp(path.join(tmpdir(), "tether-ephemeral-")) : undefined;
  const client = await createAgentClient({
    rolloutHome,
    agentUrl,
    token: agentToken,
    caFile: flags.agentCaFile,
    tetherHome: config.home,
    model,
    features: config.features.enabled,
    shellEnvironment: c.shell_environment_policy,
    projectDocMaxBytes: c.project_doc_max_bytes,
    projectDocFallbackFilenames: c.project_doc_fallback_filenames,
    // The environment's own credentials (the `tether run` grammar): only the in-process agent opens it here,
    // by the default opener (a new thread's session on the lean client, as without them).
    environmentCredentials: envToken || flags.caFile ? { token: envToken, caFile: flags.caFile } : undefined,
    reasoning: reasoningFromConfig(c),
    detachedTtlMs: c.exec_detached_ttl_ms,
    idleThreadTtlMs: c.agent_idle_thread_ttl_ms,
    notify: c.notify,
    notifyWarning: defaults.notifyWarning,
  });
  if (rolloutHome !== undefined) removeOnClose(client, rolloutHome);
  return { client, thread, overrides, config };
}

/** --ephemeral: nothing of the thread stays once the client closes (the rollout was the agent's working copy). */
function removeOnClose(client: AgentClient, dir: string): void {
  const close = client.close.bind(client);
  client.close = async () => {
    try {
      await close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}

function isReadable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** The Responses client for config's model_provider / base_url (else OPENAI_BASE_URL, OPENAI_API_KEY). */
async function modelFromConfig(config: CliConfig): Promise<ModelClient> {
  const { defaultModelClient } = await import("../../services/agent-server/default-agent-parts.js");
  return defaultModelClient(config.config);
}
