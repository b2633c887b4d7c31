// loadConfig without zod when it is not needed: each layer (config files, `-c`, environment
// variables) that a few lines can tell the schema surely accepts as it is goes through
// without it (config-quick-check.ts). Anything that check is not sure of (an unknown key, a
// value it does not accept, a shape it does not know) goes to the schema (load-config.ts),
// which then says what is wrong exactly as before; loading zod and the schema costs `tether
// exec` ≈ 25 ms of CPU before its first model request (issue 15).
import { NotSure, quickCheckLayer } from "./config-quick-check.js";
import { type LoadConfigOptions, type LoadedConfig, configFiles, resolveConfig } from "./resolve-config.js";

export { quickCheckLayer } from "./config-quick-check.js";

export async function loadConfigLazily(options: LoadConfigOptions): Promise<LoadedConfig> {
  const files = configFiles(options);
  try {
    return resolveConfig(options, quickCheckLayer, files);
  } catch (err) {
    if (!(err instanceof NotSure)) throw err;
  }
  return (await import("./load-config.js")).loadConfig(options, files);
}
