// How tether's settings are put together: $TETHER_HOME/config.toml (default ~/.tether), the
// nearest .tether/config.toml above the working directory, a profile, environment variables
// and `-c` overrides, in that order of precedence (later wins). Each layer is checked by the
// caller's check: the zod schema (load-config.ts), or first a check that needs no zod and
// accepts only layers the schema surely accepts (load-config-lazily.ts, config-quick-check.ts).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ErrorCode, TetherError } from "../tether-error.js";
import { type ConfigLayer, type ConfigTree, deepMerge, envLayers, parseOverride, parseTomlFile } from "./config-layers.js";
import type { TetherConfig } from "./config-schema.js";
import { canonicalSandboxMode } from "./config-values.js";

export interface LoadConfigOptions {
  cwd: string;
  /** Default process.env: TETHER_HOME, TETHER_PROFILE and the variables of ENV_KEYS. */
  env?: NodeJS.ProcessEnv;
  /** `--profile`; else TETHER_PROFILE; else the config's `profile`. */
  profile?: string;
  /** `-c key=value`, in order. */
  overrides?: string[];
}

export interface LoadedConfig {
  /** The effective settings, the chosen profile applied (without `profiles`). */
  config: Omit<TetherConfig, "profiles">;
  /** Unknown keys, one line each, naming the file or flag. */
  warnings: string[];
  /** The config files read, lowest precedence first. */
  files: string[];
  profile?: string;
  home: string;
}

export function tetherHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.TETHER_HOME && env.TETHER_HOME !== "" ? resolve(env.TETHER_HOME) : join(homedir(), ".tether");
}

/** The nearest `.tether/config.toml` at or above `cwd` that is not the home config itself. */
function findProjectConfig(cwd: string, homeFile: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, ".tether", "config.toml");
    if (file !== homeFile && existsSync(file)) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

function readLayer(file: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw TetherError.from(err, `reading ${file}`);
  }
  return { source: file, data: parseTomlFile(file, text) };
}

/** Checks one layer: its data (unknown keys dropped, each one a line in `warnings`), or throws. */
export type LayerCheck = (layer: ConfigLayer, warnings: string[]) => ConfigTree;

/** Whether `dir` (or the nearest directory above it that `projects` names) has trust_level "trusted". */
function isTrusted(dir: string, projects: unknown): boolean {
  if (typeof projects !== "object" || projects === null) return false;
  let best: { length: number; trusted: boolean } | undefined;
  for (const [key, entry] of Object.entries(projects as Record<string, unknown>)) {
    const named = resolve(key);
    if (dir !== named && !dir.startsWith(named.endsWith("/") ? named : `${named}/`)) continue;
    const level = typeof entry === "object" && entry !== null ? (entry as { trust_level?: unknown }).trust_level : undefined;
    if (best === undefined || named.length > best.length) best = { length: named.length, trusted: level === "trusted" };
  }
  return best?.trusted ?? false;
}

/** The config files that exist, lowest precedence first. */
export function configFiles(options: Pick<LoadConfigOptions, "cwd" | "env">): string[] {
  const homeFile = join(tetherHome(options.env ?? process.env), "config.toml");
  return [homeFile, findProjectConfig(options.cwd, homeFile)].filter((f): f is string => f !== undefined && existsSync(f));
}

export function resolveConfig(options: LoadConfigOptions, checkLayer: LayerCheck, files = configFiles(options)): LoadedConfig {
  const env = options.env ?? process.env;
  const home = tetherHome(env);
  const homeFile = join(home, "config.toml");
  const warnings: string[] = [];
  const check = (layer: ConfigLayer) => checkLayer(layer, warnings);

  const overrideTrees = (options.overrides ?? []).map((o) => check(parseOverride(o)));
  const fileTrees: ConfigTree[] = [];
  for (const file of files) {
    if (file === homeFile) {
      fileTrees.push(check(readLayer(file)));
      continue;
    }
    // A project's .tether/config.toml comes with the repository: it may turn the sandbox off,
    // or send the API key to its own model_provider. As Codex, it counts only for a project the
    // user trusts, in the home config or -c (never in the project's own file).
    const root = dirname(dirname(file));
    if (!isTrusted(root, deepMerge(fileTrees[0], ...overrideTrees).projects)) {
      warnings.push(`${file} is not used: this project is not trusted; to use it add [projects."${root}"] trust_level = "trusted" to ${homeFile}`);
      files = files.filter((f) => f !== file);
      continue;
    }
    const tree = check(readLayer(file));
    delete tree.projects;
    fileTrees.push(tree);
  }
  const envTrees = envLayers(env).map(check);
  const overrides = deepMerge(...overrideTrees);

  // -c goes in before the profile is picked (`-c profile=ci`, `-c profiles.ci.model=x`) and
  // again after it, so that `-c model=x` beats the profile's model.
  const merged = deepMerge(...fileTrees, overrides);
  const profileName = options.profile ?? (env.TETHER_PROFILE || undefined) ?? (merged.profile as string | undefined);
  let profile: ConfigTree | undefined;
  let profileFileTree: ConfigTree | undefined;
  if (profileName !== undefined) {
    const profiles = (merged.profiles ?? {}) as Record<string, ConfigTree>;
    profile = profiles[profileName];
    // Codex 0.171's layout: `-p NAME` layers $CODEX_HOME/NAME.config.toml (a whole config file)
    // and refuses [profiles.NAME]; tether reads both, the file over the table.
    const profileFile = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(profileName) ? join(home, `${profileName}.config.toml`) : undefined;
    if (profileFile !== undefined && existsSync(profileFile)) {
      const { profiles: _p, profile: _n, ...tree } = check(readLayer(profileFile));
      profileFileTree = tree;
      files = [...files, profileFile];
    }
    if (!profile && !profileFileTree) {
      const known = Object.keys(profiles);
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `profile ${JSON.stringify(profileName)} is not defined: add [profiles.${profileName}] to ${files.at(-1) ?? homeFile}` +
          (profileFile !== undefined ? `, or write its settings to ${profileFile} (Codex's layout)` : "") +
          (known.length ? ` (defined: ${known.join(", ")})` : ""),
        { details: { usage: "true" } },
      );
    }
  }
  const { profiles: _profiles, profile: _profile, ...base } = merged;
  const effective = deepMerge(base, profile, profileFileTree, ...envTrees, overrides);
  delete effective.profiles;
  delete effective.profile;
  // Layers are checked as written (Codex's danger-full-access passes); the result uses tether's name.
  if (typeof effective.sandbox_mode === "string") effective.sandbox_mode = canonicalSandboxMode(effective.sandbox_mode);
  const config = check({ source: "the merged config", data: effective }) as Omit<TetherConfig, "profiles">;
  return { config, warnings, files, profile: profileName, home };
}
