// The parts an agent gets when the caller names none: the Responses model client from the
// environment, tether's tools and its execpolicy. Loaded lazily by createAgentClient.
import type { Environment } from "../../clients/environment/environment.js";
import type { TetherConfig } from "../common/config/config-schema.js";
import type { ModelClient } from "./model/model-client.js";
import { modelClientOptions } from "./model/model-client-options.js";

export { reasoningFromConfig } from "./model/model-client-options.js";
import { localInstructionFiles } from "./model/local-instruction-files.js";
import { loadProjectInstructions } from "./model/project-instructions.js";
import { loadPersonalInstructions } from "./model/personal-instructions.js";
import { ResponsesModelClient } from "./model/responses-model-client.js";
import type { ThreadServicesFactory } from "./thread/thread-services.js";
import { RulesThreadPolicy } from "./policy/rules-thread-policy.js";
import { defaultTetherHome } from "./thread/rollout-store.js";
import { defaultThreadTools } from "./tools/thread-tools.js";
import type { ShellEnvironmentPolicy } from "./tools/unified-exec/command-env.js";

/** The Responses API client: provider and base URL from config, key and URL from the environment. */
export async function defaultModelClient(config: TetherConfig = {}, env: Record<string, string | undefined> = process.env): Promise<ModelClient> {
  return new ResponsesModelClient(modelClientOptions(config, env));
}

/** Which feature flag offers which default tool (services/agent-server/features/feature-registry.ts). */
const TOOL_FEATURES: Readonly<Record<string, string>> = { exec_command: "unified_exec", write_stdin: "unified_exec", apply_patch: "apply_patch", update_plan: "plan_tool" };

export function defaultThreadServices(options: { tetherHome?: string; features?: ReadonlyMap<string, boolean>; shellEnvironment?: ShellEnvironmentPolicy }): ThreadServicesFactory {
  const features = options.features;
  const offered = features ? (name: string) => features.get(TOOL_FEATURES[name] ?? "") !== false : undefined;
  return {
    // exec_command, write_stdin, apply_patch, update_plan over the thread's environment (less what a feature flag turned off).
    tools: (setup) => defaultThreadTools(setup, { ...(offered ? { offered } : {}), ...(options.shellEnvironment ? { shellEnvironment: options.shellEnvironment } : {}) }),
    // The user's execpolicy rules ($TETHER_HOME/rules/*.rules), re-read for each thread.
    policy: () => RulesThreadPolicy.load({ tetherHome: options.tetherHome ?? defaultTetherHome() }),
  };
}

const BASE_INSTRUCTIONS =
  "You are tether, a coding agent. Run commands with exec_command, edit files with apply_patch, and keep the plan current with update_plan.";

/** The config's keys for instruction files (Codex's). */
export interface InstructionFileOptions {
  /** project_doc_max_bytes: the cap on each of the personal and project sets. */
  maxBytes?: number;
  /** project_doc_fallback_filenames: names tried where a directory has neither AGENTS.override.md nor AGENTS.md. */
  fallbackFileNames?: readonly string[];
}

/**
 * Base instructions, the user's own $TETHER_HOME/AGENTS.override.md or AGENTS.md (Codex's
 * ~/.codex ones, read here), then the instruction files from the repository root down to the
 * cwd (read where the thread's commands run).
 */
export async function defaultInstructions(cwd: string, env?: Environment, tetherHome: string = defaultTetherHome(), files: InstructionFileOptions = {}): Promise<string> {
  if (env === undefined) return BASE_INSTRUCTIONS;
  const { maxBytes, fallbackFileNames } = files;
  const personal = loadPersonalInstructions(tetherHome, maxBytes);
  // A local cwd is read with node:fs (local-instruction-files.ts): the first model request
  // need not wait for a lazily opened environment. Any other is read where it lives.
  const project = await loadProjectInstructions(env.kind === "local" ? localInstructionFiles : env.files, cwd, {
    ...(maxBytes === undefined ? {} : { maxBytes }),
    ...(fallbackFileNames === undefined ? {} : { fallbackFileNames }),
  });
  const warnings = project.warnings.map((w) => `(${w})`).join("\n");
  return [BASE_INSTRUCTIONS, await personal, project.text, warnings].filter((part) => part.length > 0).join("\n\n");
}
