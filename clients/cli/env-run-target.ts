// `tether run` over an Environment: local, docker, zsh-fork and sandboxed runs (the lean
// client covers plain runs on exec servers; see lean-run.ts).
import { openEnvironment, type OpenOptions } from "../environment/open-environment.js";
import type { RunEvent, RunTarget } from "./run-command.js";

export async function openEnvRunTarget(text: string, options: OpenOptions & { decide?: "run" | "escalate" | "deny" }): Promise<RunTarget> {
  const env = await openEnvironment(text, options);
  const { decide } = options;
  try {
    if (decide) await env.session.handleEscalations(async () => ({ decision: decide, reason: `--decide ${decide}` }));
  } catch (err) {
    await env.close().catch(() => undefined);
    throw err;
  }
  return {
    start: async (processId, spec) => {
      await env.processes.start(processId, spec);
    },
    async *attach(processId): AsyncIterable<RunEvent> {
      for await (const ev of env.processes.attach(processId)) {
        if (ev.event.case === "output") yield { kind: "output", stream: ev.event.value.stream, data: ev.event.value.data };
        else if (ev.event.case === "exited") yield { kind: "exited", status: ev.event.value.status };
      }
    },
    write: async (processId, data, opts) => {
      await env.processes.write(processId, data, opts);
    },
    openStdin: (processId) => env.processes.openStdin(processId),
    signal: (processId, signal) => env.processes.signal(processId, signal),
    resize: (processId, rows, cols) => env.processes.resize(processId, rows, cols),
    close: () => env.close(),
  };
}
