// What exec_command and write_stdin answer the model, in the layout Codex's models know:
// wall time, exit code or the session id to continue with, the original size when cut,
// then the output.
import type { ExitStatus } from "../../../../gen/tether/exec/v1/process_pb.js";
import type { ToolResult } from "../tool.js";
import type { Collected } from "./collect-output.js";
import { exitCodeOf } from "./exec-item.js";

export const DEFAULT_MAX_OUTPUT_TOKENS = 10_000;
/** The most a call may ask for (1 MiB of output). */
export const MAX_OUTPUT_TOKENS = (1 << 20) / 4;

/** Tokens are counted as bytes / 4, the usual approximation for English and code. */
export function outputBudgetBytes(maxOutputTokens: number | undefined): number {
  const tokens = Math.min(Math.max(Math.floor(maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS), 1), MAX_OUTPUT_TOKENS);
  return tokens * 4;
}

export function clampMs(value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value === undefined || !Number.isFinite(value) ? fallback : Math.round(value);
  return Math.min(Math.max(v, min), max);
}

export function execResult(o: { wallMs: number; collected: Collected; sessionId?: number; notes?: string[] }): ToolResult {
  const lines = [...(o.notes ?? [])];
  lines.push(`Wall time: ${(o.wallMs / 1000).toFixed(4)} seconds`);
  const exit: ExitStatus | undefined = o.collected.exit;
  if (exit !== undefined) {
    lines.push(`Process exited with code ${exitCodeOf(exit)}${describeEnd(exit)}`);
    // The exec server knows this for certain (network) or from the errno texts (files).
    if (exit.sandboxDenied) lines.push(`The sandbox refused: ${exit.sandboxDenial !== "" ? exit.sandboxDenial : "an operation"}`);
  } else if (o.sessionId !== undefined) {
    lines.push(`Process running with session ID ${o.sessionId}`);
  }
  if (o.collected.truncated) lines.push(`Original token count: ${Math.ceil(o.collected.totalBytes / 4)}`);
  lines.push("Output:");
  lines.push(o.collected.text);
  return { output: lines.join("\n"), success: exit === undefined || exitCodeOf(exit) === 0 };
}

function describeEnd(exit: ExitStatus): string {
  if (exit.timedOut) return " (timed out)";
  if (exit.oomKilled) return " (killed: out of memory)";
  if (exit.signalName !== "") return ` (killed by ${exit.signalName}${exit.reason !== "" ? `: ${exit.reason}` : ""})`;
  return "";
}
