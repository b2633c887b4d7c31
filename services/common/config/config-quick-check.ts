// A check of config layers without zod, for the agent's start-up path (issue 15: loading zod
// and the schema cost `tether exec` ≈ 25 ms of CPU before its first model request, and most
// users have a config.toml). It accepts a layer only when the schema (config-schema.ts) surely
// accepts it as it is, with no unknown key; anything else is NotSure and the schema decides,
// reporting exactly as before. load-config-lazily.test.ts holds it to accepting nothing the
// schema rejects (a fast-check property over whole config trees).
import type { ConfigLayer, ConfigTree } from "./config-layers.js";
import { APPROVAL_POLICIES, LOG_LEVELS, MAX_FALLBACK_FILENAMES, MAX_NOTIFY_ARGS, REASONING_EFFORTS, REASONING_SUMMARIES, SANDBOX_MODES, canonicalSandboxMode } from "./config-values.js";

/** Not surely valid: the zod schema must decide (and say what is wrong). */
export class NotSure extends Error {}

type Check = (value: unknown) => boolean;

function isTable(value: unknown): value is ConfigTree {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

const text: Check = (v) => typeof v === "string";
const nonEmpty: Check = (v) => typeof v === "string" && v.length > 0;
const oneOf = (values: readonly string[]): Check => (v) => typeof v === "string" && values.includes(v);
const matching = (re: RegExp): Check => (v) => typeof v === "string" && re.test(v);
// z.url() accepts what URL.canParse does (after trimming); no whitespace here, so no trimming.
const url: Check = (v) => typeof v === "string" && /^https?:\/\/\S+$/.test(v) && URL.canParse(v);
const boolean: Check = (v) => typeof v === "boolean";
const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const arrayOf = (check: Check): Check => (v) => Array.isArray(v) && v.every(check);
const recordOf = (check: Check): Check => (v) => isTable(v) && Object.values(v).every(check);
/** A strict table: only these keys (each valid), the required ones present. */
const table = (shape: Readonly<Record<string, Check>>, required: readonly string[] = []): Check => (v) =>
  isTable(v) && required.every((k) => Object.hasOwn(v, k)) && Object.entries(v).every(([k, x]) => Object.hasOwn(shape, k) && shape[k]!(x));

/** The settings a profile may hold (config-schema.ts `settings`). */
const SETTINGS: Readonly<Record<string, Check>> = {
  model: nonEmpty,
  model_provider: nonEmpty,
  base_url: url,
  model_reasoning_effort: oneOf(REASONING_EFFORTS),
  model_reasoning_summary: oneOf(REASONING_SUMMARIES),
  approval_policy: oneOf(APPROVAL_POLICIES),
  sandbox_mode: (v) => typeof v === "string" && (SANDBOX_MODES as readonly string[]).includes(canonicalSandboxMode(v)),
  sandbox_workspace_write: table({ writable_roots: arrayOf(nonEmpty), network_access: boolean }),
  default_env: nonEmpty,
  agent: matching(/^(unix|grpcs?):\/\//),
  features: recordOf(boolean),
  log_level: oneOf(LOG_LEVELS),
  model_start_timeout_ms: integer(1),
  exec_detached_ttl_ms: integer(1, 24 * 3600_000),
  agent_idle_thread_ttl_ms: integer(1),
  history: table({ max_entries: integer(0, 100_000) }),
  project_doc_max_bytes: integer(0, 16 * 1024 * 1024),
  project_doc_fallback_filenames: (v) => arrayOf(text)(v) && (v as unknown[]).length <= MAX_FALLBACK_FILENAMES,
  notify: (v) => arrayOf(text)(v) && (v as unknown[]).length <= MAX_NOTIFY_ARGS,
  // include_only is left out: only the schema refuses it with the words that say what to do.
  shell_environment_policy: table({
    inherit: oneOf(["all", "core", "none"]),
    ignore_default_excludes: boolean,
    exclude: arrayOf(nonEmpty),
    set: recordOf(text),
    experimental_use_profile: boolean,
  }),
};

const MODEL_PROVIDER = table(
  {
    name: text,
    base_url: url,
    env_key: matching(/^[A-Za-z_][A-Za-z0-9_]*$/),
    wire_api: oneOf(["responses"]),
    http_headers: recordOf(text),
    env_http_headers: recordOf(text),
    query_params: recordOf(text),
    request_max_retries: integer(0, 100),
    stream_idle_timeout_ms: integer(1),
  },
);

/** Every key the quick check knows, for the test that keeps it complete. */
export const QUICK_CONFIG_KEYS: Readonly<Record<string, Check>> = {
  ...SETTINGS,
  model_providers: recordOf(MODEL_PROVIDER),
  profile: nonEmpty,
  profiles: recordOf(table(SETTINGS)),
  projects: recordOf(table({ trust_level: oneOf(["trusted", "untrusted"]) })),
};

const CONFIG = table(QUICK_CONFIG_KEYS);

/** The layer as it is, when the schema surely accepts it unchanged; else throws NotSure. */
export function quickCheckLayer(layer: ConfigLayer): ConfigTree {
  if (!CONFIG(layer.data)) throw new NotSure();
  return layer.data;
}
