import { describe, expect, it } from "vitest";
import { randomUuid } from "./random-uuid.js";

describe("randomUuid", () => {
  it("makes distinct version 4 UUIDs, past the read-ahead pool", () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomUuid()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
