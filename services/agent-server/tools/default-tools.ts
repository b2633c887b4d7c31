// The tools every thread gets, as declarations for buildToolRegistry. The unified-exec
// sessions are the thread's: the core keeps them to end a turn's processes on interrupt
// (terminateTurn) and all of them when the thread closes (closeAll).
import { applyPatchTool } from "./apply-patch/apply-patch-tool.js";
import type { ToolDefinition } from "./tool.js";
import { execCommandTool } from "./unified-exec/exec-command-tool.js";
import type { UnifiedExecSessions } from "./unified-exec/unified-exec-sessions.js";
import type { ShellEnvironmentPolicy } from "./unified-exec/command-env.js";
import { writeStdinTool } from "./unified-exec/write-stdin-tool.js";
import { updatePlanTool } from "./update-plan-tool.js";

export interface DefaultToolsOptions {
  /** The thread's unified-exec sessions (one UnifiedExecSessions per thread). */
  sessions: UnifiedExecSessions;
  /** config's [shell_environment_policy]: what exec_command's processes inherit. */
  shellEnvironment?: ShellEnvironmentPolicy;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own input type; the registry parses for each
export function createDefaultTools(options: DefaultToolsOptions): ToolDefinition<any>[] {
  return [execCommandTool(options.sessions, options.shellEnvironment), writeStdinTool(options.sessions), applyPatchTool(), updatePlanTool()];
}
