// `tether exec --output-schema FILE`: the JSON schema the final answer must match. The model is
// asked for it (TurnInput.outputSchema); an answer that does not parse or validate turns the
// completed turn into a failed one, so CI never consumes an answer of the wrong shape.
import { readFile } from "../../../services/common/fs-async.js";
import type { z } from "zod";
import type { ThreadEvent } from "../../../services/agent-server/thread/thread-event.js";
import { TetherError } from "../../../services/common/tether-error.js";
import { usageError } from "../cli-error.js";

export interface OutputSchema {
  schema: Record<string, unknown>;
  /** Undefined when the text is valid, else why not. */
  check(text: string | undefined): string | undefined;
}

export async function readOutputSchema(file: string): Promise<OutputSchema> {
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    // A flag naming a file that cannot be read: exit 2, as --help says for --output-schema.
    throw usageError(TetherError.from(err, `--output-schema ${file}`).message);
  });
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw usageError(`--output-schema ${file} is not JSON: ${(err as Error).message}`);
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw usageError(`--output-schema ${file} must hold a JSON schema object`);
  let validator: z.ZodType;
  // zod loads only with --output-schema: ≈ 25 ms of CPU that a plain `tether exec` does not pay (issue 15).
  const { validatorFromJsonSchema } = await import("./output-validator.js");
  try {
    validator = validatorFromJsonSchema(schema as Record<string, unknown>);
  } catch (err) {
    throw usageError(`--output-schema ${file} is not a JSON schema tether can check: ${(err as Error).message}`);
  }
  return {
    schema: schema as Record<string, unknown>,
    check(answer) {
      if (answer === undefined) return "the turn ended without a final answer";
      let value: unknown;
      try {
        value = JSON.parse(answer);
      } catch {
        return "the final answer is not JSON";
      }
      const result = validator.safeParse(value);
      if (result.success) return undefined;
      return result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
    },
  };
}

/** A completed turn whose answer fails the schema becomes a failed turn (same usage). */
export function enforceOutputSchema(event: ThreadEvent, lastMessage: string | undefined, schema: OutputSchema | undefined): ThreadEvent {
  if (!schema || event.type !== "turn.completed") return event;
  const problem = schema.check(lastMessage);
  if (problem === undefined) return event;
  return {
    type: "turn.failed",
    turnId: event.turnId,
    usage: event.usage,
    error: { code: "INVALID_ARGUMENT", message: `the final answer does not match --output-schema: ${problem}` },
  };
}
