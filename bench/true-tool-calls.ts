// The model side of the tool-call benchmarks (tether exec, codex exec, the A/B): `calls`
// exec_command `true` calls, then a "done" message, with the time each model request arrived.
// The gap between two requests is one tool call as the model sees it.
import type { ScriptRequest } from "../test/support/responses-server.js";

/** One `true` tool call, as every tool-call benchmark's model asks for it. */
export function trueCall(index: number) {
  return { type: "function_call" as const, name: "exec_command", arguments: { cmd: "true", login: false }, callId: `call_${index}` };
}

export interface TrueToolCalls {
  script(req: ScriptRequest): ReturnType<typeof trueCall>[] | { type: "message"; text: string }[];
  /** performance.now() of each model request. */
  readonly arrivals: number[];
  /** The gaps between consecutive requests (ms), in order. */
  gaps(): number[];
}

/** `inspect` sees each request first (e.g. to check the previous call's output). */
export function trueToolCalls(calls: number, inspect?: (req: ScriptRequest) => void): TrueToolCalls {
  const arrivals: number[] = [];
  return {
    arrivals,
    script(req) {
      arrivals.push(performance.now());
      inspect?.(req);
      return req.index >= calls ? [{ type: "message", text: "done" }] : [trueCall(req.index)];
    },
    gaps: () => arrivals.slice(1).map((t, i) => t - arrivals[i]!),
  };
}
