// Feature flags: one fixed registry of named features, each with a stage and a default.
// Config's [features] table and --enable/--disable override the defaults; a renamed feature
// keeps its old name as an alias (with a warning); an unknown or removed name is an error.
import { ErrorCode, TetherError } from "../../common/tether-error.js";

export type FeatureStage = "experimental" | "beta" | "stable" | "deprecated" | "removed";

export interface FeatureSpec {
  name: string;
  stage: FeatureStage;
  default: boolean;
  description: string;
  /** Names this feature had before: still accepted, with a warning. */
  aliases?: string[];
}

export const FEATURES: readonly FeatureSpec[] = [
  {
    name: "unified_exec",
    stage: "stable",
    default: true,
    description: "exec_command and write_stdin tools: long-running commands the model can poll and type into",
    aliases: ["streamable_shell"],
  },
  { name: "apply_patch", stage: "stable", default: true, description: "apply_patch tool for file edits through the environment's file API" },
  { name: "plan_tool", stage: "stable", default: true, description: "update_plan tool: the model keeps a checklist shown in the TUI and as todo_list items" },
  { name: "project_instructions", stage: "stable", default: true, description: "read AGENTS.md files from the repository root down to the working directory" },
  { name: "hooks", stage: "beta", default: true, description: "run hooks from hooks.json (SessionStart, UserPromptSubmit, Pre/PostToolUse, Stop)" },
  { name: "zsh_fork", stage: "experimental", default: false, description: "run commands through zsh-fork: each exec the shell makes is checked against execpolicy" },
  { name: "guardian_approvals", stage: "experimental", default: false, description: "a reviewer subagent answers approval requests instead of the user" },
  { name: "request_permissions", stage: "beta", default: false, description: "request_permissions tool: the model may ask for more writable roots or network" },
  { name: "chat_completions", stage: "deprecated", default: false, description: "talk to the model over Chat Completions instead of the Responses API" },
  { name: "web_search", stage: "removed", default: false, description: "web search tool (removed: no offline implementation)" },
];

export interface ResolvedFeatures {
  /** Every feature that is not removed, by its current name. */
  enabled: ReadonlyMap<string, boolean>;
  warnings: string[];
}

function lookup(name: string, origin: string, warnings: string[]): FeatureSpec {
  const spec = FEATURES.find((f) => f.name === name);
  if (spec) {
    if (spec.stage === "removed") {
      throw new TetherError(ErrorCode.InvalidArgument, `${origin}: feature ${name} was removed: ${spec.description}; drop it`, { details: { usage: "true" } });
    }
    if (spec.stage === "deprecated") warnings.push(`${origin}: feature ${name} is deprecated and will be removed`);
    return spec;
  }
  const renamed = FEATURES.find((f) => f.aliases?.includes(name));
  if (renamed) {
    warnings.push(`${origin}: feature ${name} is now called ${renamed.name}: use the new name`);
    return lookup(renamed.name, origin, warnings);
  }
  throw new TetherError(ErrorCode.InvalidArgument, `${origin}: unknown feature ${JSON.stringify(name)}: see \`tether features list\``, { details: { usage: "true" } });
}

/** Defaults, then the config's [features], then --enable, then --disable. */
export function resolveFeatures(options: { config?: Record<string, boolean>; enable?: string[]; disable?: string[] }): ResolvedFeatures {
  const warnings: string[] = [];
  const enabled = new Map<string, boolean>();
  for (const f of FEATURES) if (f.stage !== "removed") enabled.set(f.name, f.default);
  for (const [name, on] of Object.entries(options.config ?? {})) enabled.set(lookup(name, `[features] ${name}`, warnings).name, on);
  for (const name of options.enable ?? []) enabled.set(lookup(name, `--enable ${name}`, warnings).name, true);
  for (const name of options.disable ?? []) enabled.set(lookup(name, `--disable ${name}`, warnings).name, false);
  return { enabled, warnings };
}

/** `tether features list`: one row per feature, in registry order. */
export function formatFeatureTable(resolved: ResolvedFeatures): string {
  const rows = FEATURES.map((f) => [
    f.name,
    f.stage,
    f.stage === "removed" ? "-" : resolved.enabled.get(f.name) ? "on" : "off",
    f.aliases?.length ? `${f.description} (was: ${f.aliases.join(", ")})` : f.description,
  ]);
  const header = ["FEATURE", "STAGE", "STATE", "DESCRIPTION"];
  const widths = [0, 1, 2].map((i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ");
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}
