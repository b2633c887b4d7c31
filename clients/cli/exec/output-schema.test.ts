import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USAGE } from "../../../test/support/recorded-thread-events.js";
import { enforceOutputSchema, readOutputSchema } from "./output-schema.js";

describe("readOutputSchema / enforceOutputSchema", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tether-output-schema-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string) => {
    await writeFile(path.join(dir, name), text);
    return path.join(dir, name);
  };

  it("passes a matching answer and fails the turn for one that does not match, saying where", async () => {
    const schema = await readOutputSchema(
      await file("s.json", JSON.stringify({ type: "object", properties: { ok: { type: "boolean" }, n: { type: "integer" } }, required: ["ok", "n"], additionalProperties: false })),
    );
    const done = { type: "turn.completed" as const, turnId: "t", usage: USAGE };
    expect(enforceOutputSchema(done, '{"ok":true,"n":3}', schema)).toBe(done);
    expect(enforceOutputSchema(done, '{"ok":"yes","n":3}', schema)).toEqual({
      type: "turn.failed",
      turnId: "t",
      usage: USAGE,
      error: { code: "INVALID_ARGUMENT", message: expect.stringMatching(/^the final answer does not match --output-schema: ok: /) as unknown },
    });
    expect(enforceOutputSchema(done, "not json", schema)).toMatchObject({ error: { message: /is not JSON/ } });
    expect(enforceOutputSchema(done, undefined, schema)).toMatchObject({ error: { message: /without a final answer/ } });
    expect(enforceOutputSchema(done, "anything", undefined)).toBe(done);
  });

  it("refuses a file that is not a JSON schema object, as a usage error", async () => {
    await expect(readOutputSchema(await file("bad.json", "{nope"))).rejects.toMatchObject({ message: /is not JSON/, details: { usage: "true" } });
    await expect(readOutputSchema(await file("arr.json", "[1]"))).rejects.toThrow(/must hold a JSON schema object/);
    await expect(readOutputSchema(path.join(dir, "missing.json"))).rejects.toThrow(/--output-schema .*missing\.json/);
  });
});
