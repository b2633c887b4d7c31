// Loads tether's settings (resolve-config.ts says from where), every layer checked against the
// zod schema. Imported only by commands that need it: `tether run` reads `default_env` alone,
// without TOML or zod (default-env.ts); `tether exec` tries a check without zod first
// (load-config-lazily.ts) and comes here only for a layer that check is not sure of.
import { checkLayer } from "./config-layers.js";
import { ConfigSchema } from "./config-schema.js";
import { type LoadConfigOptions, type LoadedConfig, resolveConfig } from "./resolve-config.js";

export { type LoadConfigOptions, type LoadedConfig, tetherHome } from "./resolve-config.js";

export function loadConfig(options: LoadConfigOptions, files?: string[]): LoadedConfig {
  return resolveConfig(options, (layer, warnings) => checkLayer(layer, ConfigSchema, warnings), files);
}
