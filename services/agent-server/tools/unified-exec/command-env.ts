// The environment exec_command's processes get: Codex's shell_environment_policy (what they
// inherit from where they run, names to drop, variables to set) on the exec protocol's
// EnvPolicy, plus variables that keep output plain for the model. Without a policy they
// inherit everything, as Codex's processes do.
import type { ProcessSpecInit } from "../../../../clients/environment/environment.js";
import { EnvInherit } from "../../../common/wire-enums.js";

/** config.toml's [shell_environment_policy] (Codex's keys; include_only is refused by the schema). */
export interface ShellEnvironmentPolicy {
  inherit?: "all" | "core" | "none";
  /** false: also drop Codex's default *KEY*, *SECRET*, *TOKEN* names. */
  ignore_default_excludes?: boolean;
  exclude?: string[];
  set?: Record<string, string>;
}

/** Commands run for a model: no colours, no pagers waiting for a key. */
const PLAIN_OUTPUT = { NO_COLOR: "1", TERM: "dumb", PAGER: "cat", GIT_PAGER: "cat", GH_PAGER: "cat" };
const DEFAULT_EXCLUDES = ["*KEY*", "*SECRET*", "*TOKEN*"];
const INHERIT = { all: EnvInherit.ALL, core: EnvInherit.CORE, none: EnvInherit.NONE } as const;

export function commandEnvironment(policy: ShellEnvironmentPolicy | undefined): Pick<ProcessSpecInit, "env" | "envPolicy"> {
  if (policy === undefined) return { env: PLAIN_OUTPUT };
  const globs = [...(policy.exclude ?? []), ...(policy.ignore_default_excludes === false ? DEFAULT_EXCLUDES : [])];
  // Codex matches these case-insensitively, the exec layer's globs are case-sensitive: each
  // pattern as written, upper- and lower-cased covers the names people write (AWS_*, *token*).
  const exclude = new Set(globs.flatMap((g) => [g, g.toUpperCase(), g.toLowerCase()]));
  return { env: { ...PLAIN_OUTPUT, ...policy.set }, envPolicy: { inherit: INHERIT[policy.inherit ?? "all"], exclude: [...exclude] } };
}
