import { describe, expect, it } from "vitest";
import { retryAfter } from "./model-failure.js";

describe("retryAfter", () => {
  const now = () => Date.parse("2026-12-07T05:00:00Z");
  it("prefers retry-after-ms, then seconds, then an HTTP date", () => {
    expect(retryAfter(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), now)).toBe(250);
    expect(retryAfter(new Headers({ "retry-after": "1.5" }), now)).toBe(1500);
    expect(retryAfter(new Headers({ "retry-after": "Mon, 07 Dec 2026 05:00:03 GMT" }), now)).toBe(3000);
    expect(retryAfter(new Headers({ "retry-after": "Mon, 07 Dec 2026 04:00:00 GMT" }), now)).toBe(0);
  });
  it("ignores what it cannot read", () => {
    expect(retryAfter(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfter(new Headers({ "retry-after-ms": "-5" }), now)).toBeUndefined();
    expect(retryAfter(new Headers(), now)).toBeUndefined();
    expect(retryAfter(undefined, now)).toBeUndefined();
  });
});
