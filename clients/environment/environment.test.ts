import { readFile } from "node:fs/promises";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { DecisionResult as CoreDecisionResult } from "../../services/exec-server/escalation/escalation-types.js";
import type { DecisionResult } from "./environment.js";

describe("the Environment contract", () => {
  it("imports nothing from services/ (clients build on it without the exec server's code)", async () => {
    const source = await readFile(new URL("./environment.ts", import.meta.url), "utf8");
    const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((p) => p.includes("/services/"))).toEqual([]);
  });

  it("answers escalations with the shape the exec server's core takes", () => {
    expectTypeOf<DecisionResult>().toEqualTypeOf<CoreDecisionResult>();
    const answer: CoreDecisionResult = { decision: "deny", reason: "no" } satisfies DecisionResult;
    expect(answer.decision).toBe("deny");
  });
});
