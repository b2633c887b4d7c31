// The one schema of tether's config.toml (STYLE rule 10): every layer (the home file, the
// project file, a profile, environment variables, `-c` overrides) is checked against it
// alone, so an error names the layer it came from; the merged result is checked again. A layer
// the schema surely accepts is let through without zod by config-quick-check.ts: change both.
import * as z from "zod";
import { APPROVAL_POLICIES, LOG_LEVELS, MAX_FALLBACK_FILENAMES, MAX_NOTIFY_ARGS, REASONING_EFFORTS, REASONING_SUMMARIES, SANDBOX_MODES, canonicalSandboxMode } from "./config-values.js";

export { APPROVAL_POLICIES, SANDBOX_MODES, canonicalSandboxMode };

const ModelProvider = z.strictObject({
  name: z.string().optional(),
  // Optional per layer, as in Codex, which checks the merged config: `-c model_providers.x.name=…`
  // and `-c model_providers.x.base_url=…` are two layers. The provider in use needs it (model-client-options.ts).
  base_url: z.url({ error: "must be a URL such as http://127.0.0.1:8080/v1" }).optional(),
  /** Environment variable holding the API key (default OPENAI_API_KEY). */
  env_key: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name").optional(),
  wire_api: z.enum(["responses"], { error: 'tether speaks only the Responses API (POST …/v1/responses): use "responses" with a server that offers it; "chat" is not supported' }).optional(),
  // Codex's provider keys that change what is sent (Azure needs query_params api-version).
  http_headers: z.record(z.string(), z.string()).optional(),
  /** Header name → the environment variable holding its value (left out when unset). */
  env_http_headers: z.record(z.string(), z.string()).optional(),
  query_params: z.record(z.string(), z.string()).optional(),
  request_max_retries: z.number().int().min(0).max(100).optional(),
  stream_idle_timeout_ms: z.number().int().positive().optional(),
});

/** What a profile may set: everything but profiles themselves. */
const settings = {
  model: z.string().min(1).optional(),
  model_provider: z.string().min(1).optional(),
  /** Shortcut for a Responses-compatible server when no provider is named. */
  base_url: z.url({ error: "must be a URL such as http://127.0.0.1:8080/v1" }).optional(),
  /** Codex's keys: sent as the request's `reasoning` (with encrypted reasoning passed back) only when one is set. */
  model_reasoning_effort: z.enum(REASONING_EFFORTS).optional(),
  model_reasoning_summary: z.enum(REASONING_SUMMARIES).optional(),
  approval_policy: z.enum(APPROVAL_POLICIES).optional(),
  sandbox_mode: z.preprocess((v) => (typeof v === "string" ? canonicalSandboxMode(v) : v), z.enum(SANDBOX_MODES)).optional(),
  sandbox_workspace_write: z
    .strictObject({
      writable_roots: z.array(z.string().min(1)).optional(),
      network_access: z.boolean().optional(),
    })
    .optional(),
  /** Where commands run when no --env is given (`tether run`, `tether exec`, the TUI). */
  default_env: z.string().min(1).optional(),
  /** An agent server to use instead of the in-process agent (`--agent`). */
  agent: z.string().regex(/^(unix|grpcs?):\/\//, "must be unix:///path, grpc://host:port or grpcs://host:port").optional(),
  features: z.record(z.string(), z.boolean()).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  /** How long the model may take to begin answering a turn. */
  model_start_timeout_ms: z.number().int().positive().optional(),
  /** How long a thread's exec session (and the model's long-lived processes) outlives the agent: restart, unloaded thread. Exec servers cap it (24 h by default). */
  exec_detached_ttl_ms: z.number().int().positive().max(24 * 3600_000).optional(),
  /** A loaded thread with no running turn and no subscriber is unloaded after this long (reloaded from its rollout on the next call). */
  agent_idle_thread_ttl_ms: z.number().int().positive().optional(),
  history: z.strictObject({ max_entries: z.number().int().min(0).max(100_000).optional() }).optional(),
  /** Codex's key: the cap on AGENTS.md text sent to the model (default 32 KiB; each of the personal and project sets). */
  project_doc_max_bytes: z.number().int().min(0).max(16 * 1024 * 1024).optional(),
  /** Codex's key: file names tried, in order, in a directory with neither AGENTS.override.md nor AGENTS.md (blank names ignored, as in Codex). */
  project_doc_fallback_filenames: z.array(z.string()).max(MAX_FALLBACK_FILENAMES, { error: `may list at most ${MAX_FALLBACK_FILENAMES} names (each is a file read in every directory from the repository root to the cwd)` }).optional(),
  /** Codex's key: a program and its arguments, run after each completed turn with the turn's JSON as one more argument (empty: none). */
  notify: z.array(z.string()).max(MAX_NOTIFY_ARGS, { error: `may hold at most ${MAX_NOTIFY_ARGS} words (the program and its arguments)` }).optional(),
  /** Codex's key: what exec_command's processes inherit (tools/unified-exec/command-env.ts). */
  shell_environment_policy: z
    .strictObject({
      inherit: z.enum(["all", "core", "none"]).optional(),
      ignore_default_excludes: z.boolean().optional(),
      exclude: z.array(z.string().min(1)).optional(),
      set: z.record(z.string(), z.string()).optional(),
      // Refused, not ignored: ignoring it would pass on every variable it was written to keep out.
      include_only: z.array(z.string()).max(0, { error: 'is not supported by tether: use inherit = "core" (or "none") and set = { NAME = "value" } for what commands need' }).optional(),
      experimental_use_profile: z.boolean().optional(),
    })
    .optional(),
};

const ProfileSchema = z.strictObject(settings);

export const ConfigSchema = z.strictObject({
  ...settings,
  model_providers: z.record(z.string(), ModelProvider).optional(),
  /** The profile used when no --profile is given. */
  profile: z.string().min(1).optional(),
  profiles: z.record(z.string(), ProfileSchema).optional(),
  /** Codex's key: a directory whose .tether/config.toml is used (`trust_level = "trusted"`); read from the home config and -c only. */
  projects: z.record(z.string(), z.strictObject({ trust_level: z.enum(["trusted", "untrusted"]).optional() })).optional(),
});

export type TetherConfig = z.infer<typeof ConfigSchema>;
