// The pieces a config is merged from, each checked alone against the schema so an error
// names where it came from: a TOML file, one `-c key=value`, one environment variable.
import { TomlError, parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { ErrorCode, TetherError } from "../tether-error.js";
import { isCodexOnlyKey } from "./codex-only-keys.js";

export type ConfigTree = Record<string, unknown>;

export interface ConfigLayer {
  /** What a person would look at to fix it: a file path, `-c model=x`, `TETHER_MODEL`. */
  source: string;
  data: ConfigTree;
}

/** Environment variables that set a key, and the key. */
export const ENV_KEYS: Readonly<Record<string, string>> = {
  TETHER_MODEL: "model",
  TETHER_ENV: "default_env",
  TETHER_SANDBOX: "sandbox_mode",
  TETHER_APPROVAL_POLICY: "approval_policy",
  TETHER_AGENT: "agent",
  TETHER_LOG: "log_level",
  OPENAI_BASE_URL: "base_url",
};

function isTable(value: unknown): value is ConfigTree {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Tables merge key by key; anything else (arrays included) is replaced by the later layer. */
export function deepMerge(...trees: (ConfigTree | undefined)[]): ConfigTree {
  const out: ConfigTree = {};
  for (const tree of trees) {
    if (!tree) continue;
    for (const [key, value] of Object.entries(tree)) {
      const prev = out[key];
      out[key] = isTable(prev) && isTable(value) ? deepMerge(prev, value) : value;
    }
  }
  return out;
}

export function parseTomlFile(file: string, text: string): ConfigTree {
  try {
    return parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split("\n")[0] ?? "invalid TOML";
      throw new TetherError(ErrorCode.InvalidArgument, `${file}:${err.line}:${err.column}: invalid TOML: ${reason}`, {
        cause: err,
        // The user's file to fix: a usage error (exit 2), as every other config error is.
        details: { usage: "true" },
      });
    }
    throw TetherError.from(err, file);
  }
}

const KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** `-c key.sub=value`: the value in TOML syntax (`-c sandbox_mode="read-only"`), or a bare string. */
export function parseOverride(text: string): ConfigLayer {
  const eq = text.indexOf("=");
  const key = eq > 0 ? text.slice(0, eq).trim() : "";
  if (!KEY.test(key)) {
    throw new TetherError(ErrorCode.InvalidArgument, `-c ${JSON.stringify(text)} must look like key=value (dotted keys for tables: features.x=true)`, {
      details: { usage: "true" },
    });
  }
  const raw = text.slice(eq + 1).trim();
  let value: unknown;
  try {
    value = (parseToml(`v = ${raw}`) as { v: unknown }).v;
  } catch {
    // Not a TOML value: taken as a plain string, so `-c model=gpt-5` needs no quotes.
    value = raw;
  }
  const data: ConfigTree = {};
  let node = data;
  const parts = key.split(".");
  for (const part of parts.slice(0, -1)) {
    const next: ConfigTree = {};
    node[part] = next;
    node = next;
  }
  node[parts[parts.length - 1]!] = value;
  return { source: `-c ${text}`, data };
}

export function envLayers(env: NodeJS.ProcessEnv): ConfigLayer[] {
  const layers: ConfigLayer[] = [];
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== "") layers.push({ source: name, data: { [key]: value } });
  }
  return layers;
}

/**
 * Checks one layer: unknown keys become warnings (and are dropped), anything else wrong is an
 * error naming the source, the key and the reason.
 */
export function checkLayer(layer: ConfigLayer, schema: z.ZodType, warnings: string[]): ConfigTree {
  let data = layer.data;
  const codexOnly: string[] = [];
  const done = (): ConfigTree => {
    if (codexOnly.length > 0) warnings.push(`${layer.source}: Codex settings tether does not use (ignored): ${codexOnly.join(", ")}`);
    return data;
  };
  for (let round = 0; round < 8; round++) {
    const result = schema.safeParse(data);
    if (result.success) return done();
    const unknown = result.error.issues.filter((i) => i.code === "unrecognized_keys");
    const other = result.error.issues.filter((i) => i.code !== "unrecognized_keys");
    if (other.length > 0) {
      const lines = other.map((i) => `${layer.source}: ${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`);
      throw new TetherError(ErrorCode.InvalidArgument, lines.join("\n"), { details: { usage: "true" } });
    }
    data = structuredClone(data);
    for (const issue of unknown) {
      const keys = "keys" in issue ? (issue.keys) : [];
      const parent = issue.path.reduce<unknown>((node, part) => (isTable(node) ? node[String(part)] : undefined), data);
      for (const key of keys) {
        const path = [...issue.path, key];
        if (isCodexOnlyKey(path)) codexOnly.push(path.join("."));
        else warnings.push(`${layer.source}: unknown key ${path.join(".")} (ignored)`);
        if (isTable(parent)) delete parent[key];
      }
    }
  }
  throw new TetherError(ErrorCode.Internal, `${layer.source}: the config could not be checked`);
}
