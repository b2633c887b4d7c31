import { describe, expect, it } from "vitest";
import { detectSandboxSupport } from "./sandbox-capabilities.js";

describe("detectSandboxSupport", () => {
  it("explains how to fix a missing bwrap", async () => {
    const support = await detectSandboxSupport({ bwrapPath: "/nonexistent/bwrap" });
    expect(support.bwrap).toEqual({ ok: false, reason: expect.stringContaining("scripts/setup.sh") });
  });

  it("caches the probe of the real bwrap", async () => {
    const first = detectSandboxSupport();
    expect(detectSandboxSupport()).toBe(first);
    const support = await first;
    // Either shape is complete: a usable bwrap has a path and a version, a missing one a reason.
    // In CI setup.sh installs bwrap, so there it must be usable.
    const usable = { ok: true, path: expect.stringMatching(/\/bwrap$/), version: expect.stringMatching(/^\d+\.\d+/) };
    const missing = { ok: false, reason: expect.stringMatching(/.+/) };
    expect(support.bwrap).toEqual(support.bwrap.ok || process.env.CI === "true" ? usable : missing);
  });
});
