// The agent commands' shared flags (-c, --profile, --enable, --disable) and what they
// resolve to: the loaded config and the feature set. Warnings (unknown keys, renamed or
// deprecated features) go to stderr once, prefixed so they are not mistaken for output.
import type { LoadedConfig } from "../../services/common/config/load-config.js";
import { loadConfigLazily } from "../../services/common/config/load-config-lazily.js";
import { type ResolvedFeatures, resolveFeatures } from "../../services/agent-server/features/feature-registry.js";
import { usageError } from "./cli-error.js";

export interface ConfigFlags {
  config: string[];
  profile?: string;
  enable: string[];
  disable: string[];
  /** Codex's --strict-config: a key tether does not use is an error, not a warning. */
  strictConfig?: boolean;
}

export interface CliConfig extends LoadedConfig {
  features: ResolvedFeatures;
}

export async function loadCliConfig(
  flags: ConfigFlags,
  cwd: string,
  warn: (line: string) => void = (l) => process.stderr.write(`tether: warning: ${l}\n`),
): Promise<CliConfig> {
  const loaded = await loadConfigLazily({ cwd, profile: flags.profile, overrides: flags.config });
  if (flags.strictConfig && loaded.warnings.length > 0) {
    throw usageError(`--strict-config: ${loaded.warnings.join("; ")}: remove them, or leave out --strict-config`);
  }
  const features = resolveFeatures({ config: loaded.config.features, enable: flags.enable, disable: flags.disable });
  for (const line of [...loaded.warnings, ...features.warnings]) warn(line);
  return { ...loaded, features };
}
