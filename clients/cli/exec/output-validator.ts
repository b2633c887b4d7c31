// The validator of `tether exec --output-schema`: zod's reader of a JSON schema, in a module of
// its own that output-schema.ts imports only when the flag is given. Imported as a namespace
// (never `import("zod")` itself, whose module object would keep every export of zod, its
// ≈ 40 locales included, in the chunk every zod user loads).
import * as z from "zod";

export function validatorFromJsonSchema(schema: Record<string, unknown>): z.ZodType {
  return z.fromJSONSchema(schema);
}
