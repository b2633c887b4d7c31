// Tool arguments from a strict-mode model, made ready for zod: strict mode sends null for an
// absent optional field (strict-json-schema.ts makes every optional field nullable), which
// zod's `.optional()` refuses. No zod here: the registry uses it before any parser loads.

/** Nulls in objects mean "absent" before parsing. (No tool takes a meaningful null.) */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== null) out[key] = dropNulls(v);
  }
  return out;
}
