// The default tools of one thread, in the shape the core drives (ThreadTools): a fixed
// registry over createDefaultTools and the thread's unified-exec sessions, whose processes
// end with an interrupted turn (terminateTurn) or with the thread (closeAll).
import type { ThreadSetup, ThreadTools } from "../thread/thread-services.js";
import { createDefaultTools } from "./default-tools.js";
import { buildToolRegistry } from "./tool-registry.js";
import { UnifiedExecSessions, type UnifiedExecSessionsOptions } from "./unified-exec/unified-exec-sessions.js";
import type { ShellEnvironmentPolicy } from "./unified-exec/command-env.js";

export type DefaultThreadToolsOptions = Omit<UnifiedExecSessionsOptions, "env" | "threadId"> & {
  /** Which default tools the thread offers, by name (feature flags); all when absent. */
  offered?: (name: string) => boolean;
  /** config's [shell_environment_policy]: what exec_command's processes inherit. */
  shellEnvironment?: ShellEnvironmentPolicy;
};

export function defaultThreadTools(setup: Pick<ThreadSetup, "env" | "threadId" | "journal">, options: DefaultThreadToolsOptions = {}): ThreadTools {
  const { offered, shellEnvironment, ...sessionOptions } = options;
  const sessions = new UnifiedExecSessions({ ...sessionOptions, env: setup.env, threadId: setup.threadId, ...(setup.journal ? { journal: setup.journal } : {}) });
  const registry = buildToolRegistry(createDefaultTools({ sessions, ...(shellEnvironment ? { shellEnvironment } : {}) }).filter((tool) => offered?.(tool.name) ?? true));
  return {
    specs: registry.specs(),
    run: (call, ctx) => registry.call(call.name, call.arguments, ctx),
    prefetch: () => registry.prefetch(),
    terminateTurn: async (turnId) => {
      await sessions.terminateTurn(turnId);
    },
    closeAll: async () => {
      await sessions.closeAll();
    },
    restore: (saved, signal, items) => sessions.restore(saved, signal, items),
    liveProcesses: () => sessions.size,
    originOf: (processId) => sessions.originOf(processId),
  };
}
