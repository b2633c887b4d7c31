// loadConfig without zod when it is not needed: with no config file and no `-c`, the only
// layers are environment variables (TETHER_MODEL, OPENAI_BASE_URL, …), plain strings that a
// few lines check as the schema does. Anything this check is not sure of (a file, an
// override, a value it does not accept) goes to the schema (load-config.ts), which then says
// what is wrong exactly as before; loading zod and the schema costs `tether exec` ≈ 25 ms of
// CPU before its first model request (issue 15). load-config-lazily.test.ts holds the check
// to accepting nothing the schema rejects.
import type { ConfigLayer, ConfigTree } from "./config-layers.js";
import { APPROVAL_POLICIES, LOG_LEVELS, SANDBOX_MODES, canonicalSandboxMode } from "./config-values.js";
import { type LoadConfigOptions, type LoadedConfig, configFiles, resolveConfig } from "./resolve-config.js";

const oneOf = (values: readonly string[]) => (v: string) => values.includes(v);

/** The keys environment variables set, and a check that accepts only what the schema accepts. */
const QUICK_CHECKS: Readonly<Record<string, (value: string) => boolean>> = {
  model: (v) => v.length > 0,
  default_env: (v) => v.length > 0,
  sandbox_mode: (v) => SANDBOX_MODES.includes(canonicalSandboxMode(v) as (typeof SANDBOX_MODES)[number]),
  approval_policy: oneOf(APPROVAL_POLICIES),
  agent: (v) => /^(unix|grpcs?):\/\//.test(v),
  log_level: oneOf(LOG_LEVELS),
  // z.url() accepts what URL.canParse does (after trimming); no whitespace here, so no trimming.
  base_url: (v) => /^https?:\/\/\S+$/.test(v) && URL.canParse(v),
};

class NotSure extends Error {}

/** The layer as it is, when it is surely valid; else NotSure (the schema decides). */
export function quickCheckLayer(layer: ConfigLayer): ConfigTree {
  for (const [key, value] of Object.entries(layer.data)) {
    const ok = Object.hasOwn(QUICK_CHECKS, key) && typeof value === "string" && QUICK_CHECKS[key]!(value);
    if (!ok) throw new NotSure();
  }
  return layer.data;
}

export async function loadConfigLazily(options: LoadConfigOptions): Promise<LoadedConfig> {
  const files = configFiles(options);
  if (files.length === 0 && (options.overrides ?? []).length === 0) {
    try {
      return resolveConfig(options, quickCheckLayer, files);
    } catch (err) {
      if (!(err instanceof NotSure)) throw err;
    }
  }
  return (await import("./load-config.js")).loadConfig(options, files);
}
