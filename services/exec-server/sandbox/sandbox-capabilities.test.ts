import { describe, expect, it } from "vitest";
import { detectSandboxSupport } from "./sandbox-capabilities.js";

describe("detectSandboxSupport", () => {
  it("explains how to fix a missing bwrap", async () => {
    const support = await detectSandboxSupport({ bwrapPath: "/nonexistent/bwrap" });
    expect(support.bwrap.ok).toBe(false);
    if (!support.bwrap.ok) expect(support.bwrap.reason).toContain("scripts/setup.sh");
  });

  it("caches the probe of the real bwrap", async () => {
    const first = detectSandboxSupport();
    expect(detectSandboxSupport()).toBe(first);
    const support = await first;
    if (support.bwrap.ok) expect(support.bwrap.version).toMatch(/^\d+\.\d+/);
    else console.log(`bwrap unavailable here: ${support.bwrap.reason}`);
  });
});
