import { describe, expect, it } from "vitest";
import { FEATURES, formatFeatureTable, resolveFeatures } from "./feature-registry.js";

describe("resolveFeatures", () => {
  it("starts from each feature's default and leaves removed ones out", () => {
    const { enabled, warnings } = resolveFeatures({});
    expect(enabled.get("unified_exec")).toBe(true);
    expect(enabled.get("zsh_fork")).toBe(false);
    expect(enabled.has("web_search")).toBe(false);
    expect(warnings).toEqual([]);
  });

  it("applies config, then --enable, then --disable", () => {
    const { enabled } = resolveFeatures({ config: { zsh_fork: true, hooks: false }, enable: ["hooks"], disable: ["zsh_fork"] });
    expect(enabled.get("hooks")).toBe(true);
    expect(enabled.get("zsh_fork")).toBe(false);
  });

  it("accepts an old name with a warning naming the new one", () => {
    const { enabled, warnings } = resolveFeatures({ disable: ["streamable_shell"] });
    expect(enabled.get("unified_exec")).toBe(false);
    expect(warnings).toEqual(["--disable streamable_shell: feature streamable_shell is now called unified_exec: use the new name"]);
  });

  it("warns about a deprecated feature", () => {
    expect(resolveFeatures({ config: { chat_completions: true } }).warnings[0]).toMatch(/chat_completions is deprecated/);
  });

  it("refuses unknown and removed names, saying where they came from", () => {
    expect(() => resolveFeatures({ enable: ["warp_drive"] })).toThrow(/--enable warp_drive: unknown feature "warp_drive": see `tether features list`/);
    expect(() => resolveFeatures({ config: { web_search: true } })).toThrow(/\[features\] web_search: feature web_search was removed/);
  });

  it("has unique names and aliases", () => {
    const names = FEATURES.flatMap((f) => [f.name, ...(f.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
  });

  it("lists every feature with its stage and state", () => {
    const table = formatFeatureTable(resolveFeatures({ enable: ["zsh_fork"] }));
    expect(table.split("\n")[0]).toMatch(/^FEATURE\s+STAGE\s+STATE\s+DESCRIPTION$/);
    expect(table).toMatch(/^zsh_fork\s+experimental\s+on\s+/m);
    expect(table).toMatch(/^web_search\s+removed\s+-\s+/m);
    expect(table).toMatch(/unified_exec.*\(was: streamable_shell\)/);
  });
});
