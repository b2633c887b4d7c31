// The agent commands' shared flags (-c, --profile, --enable, --disable) and what they
// resolve to: the loaded config and the feature set. Warnings (unknown keys, renamed or
// deprecated features) go to stderr once, prefixed so they are not mistaken for output.
import type { Command } from "commander";
import { type LoadedConfig, loadConfig } from "../../services/common/config/load-config.js";
import { type ResolvedFeatures, resolveFeatures } from "../../services/agent-server/features/feature-registry.js";

export interface ConfigFlags {
  config: string[];
  profile?: string;
  enable: string[];
  disable: string[];
}

export interface CliConfig extends LoadedConfig {
  features: ResolvedFeatures;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addConfigOptions(cmd: Command): Command {
  return cmd
    .option("-c, --config <key=value>", "override a config key (dotted for tables, TOML value syntax: -c sandbox_mode=\"read-only\"); repeatable", collect, [])
    .option("-p, --profile <name>", "use [profiles.NAME] from config.toml")
    .option("--enable <feature>", "turn a feature on (see `tether features list`); repeatable", collect, [])
    .option("--disable <feature>", "turn a feature off; repeatable", collect, []);
}

export function loadCliConfig(flags: ConfigFlags, cwd: string, warn: (line: string) => void = (l) => process.stderr.write(`tether: warning: ${l}\n`)): CliConfig {
  const loaded = loadConfig({ cwd, profile: flags.profile, overrides: flags.config });
  const features = resolveFeatures({ config: loaded.config.features, enable: flags.enable, disable: flags.disable });
  for (const line of [...loaded.warnings, ...features.warnings]) warn(line);
  return { ...loaded, features };
}
