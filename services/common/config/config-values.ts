// The config's enumerated values, apart from the zod schema (config-schema.ts): the agent's
// start-up path needs them without loading zod (issue 15).
export const SANDBOX_MODES = ["read-only", "workspace-write", "full-access"] as const;
/** Codex's names for tether's sandbox modes: a Codex user's `-s` and `sandbox_mode` work unchanged. */
const SANDBOX_MODE_ALIASES: Readonly<Record<string, (typeof SANDBOX_MODES)[number]>> = { "danger-full-access": "full-access" };

/** tether's name for a sandbox mode given in Codex's spelling (other values unchanged, checked later). */
export function canonicalSandboxMode(value: string): string {
  return SANDBOX_MODE_ALIASES[value] ?? value;
}

export const APPROVAL_POLICIES = ["untrusted", "on-failure", "on-request", "never"] as const;
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** Codex's model_reasoning_effort and model_reasoning_summary values. */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;
/** Most names project_doc_fallback_filenames may list: each is a read per directory of the chain. */
export const MAX_FALLBACK_FILENAMES = 16;
export const REASONING_SUMMARIES = ["auto", "concise", "detailed", "none"] as const;
/** Most words `notify` may hold (the program and its arguments). */
export const MAX_NOTIFY_ARGS = 64;
