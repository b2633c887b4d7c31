// The parts an agent gets when the caller names none: the Responses model client from the
// environment, tether's tools and its execpolicy. Loaded lazily by createAgentClient.
// TODO(issue 15): wire ResponsesModelClient as it lands.
import { ErrorCode, TetherError } from "../common/tether-error.js";
import type { ModelClient } from "./model/model-client.js";
import type { ThreadServicesFactory } from "./thread/thread-services.js";
import { RulesThreadPolicy } from "./policy/rules-thread-policy.js";
import { defaultTetherHome } from "./thread/rollout-store.js";
import { defaultThreadTools } from "./tools/thread-tools.js";

export async function defaultModelClient(): Promise<ModelClient> {
  throw new TetherError(ErrorCode.Unimplemented, "the Responses model client is not wired yet: pass `model` to createAgentClient");
}

export function defaultThreadServices(options: { tetherHome?: string }): ThreadServicesFactory {
  return {
    // exec_command, write_stdin, apply_patch, update_plan over the thread's environment.
    tools: (setup) => defaultThreadTools(setup),
    // The user's execpolicy rules ($TETHER_HOME/rules/*.rules), re-read for each thread.
    policy: () => RulesThreadPolicy.load({ tetherHome: options.tetherHome ?? defaultTetherHome() }),
  };
}

export async function defaultInstructions(_cwd: string): Promise<string> {
  return "You are tether, a coding agent. Run commands with exec_command, edit files with apply_patch, and keep the plan current with update_plan.";
}
