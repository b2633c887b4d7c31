import { describe, expect, it, vi } from "vitest";
import { ErrorCode, TetherError } from "./tether-error.js";

describe("TetherError across copies of its module", () => {
  it("is a TetherError to every copy (two bundles of tether exec), and TetherError.from keeps its code", async () => {
    vi.resetModules();
    const copy = "./tether-error.js?copy"; // a second instance of the module, as a second bundle has
    const other = (await import(/* @vite-ignore */ copy)) as typeof import("./tether-error.js");
    expect(other.TetherError).not.toBe(TetherError);
    const err = new other.TetherError(other.ErrorCode.NotFound, "gone");
    expect(err instanceof TetherError).toBe(true);
    expect(TetherError.from(err)).toBe(err);
    expect(TetherError.from(err).code).toBe(ErrorCode.NotFound);
    expect(new TetherError(ErrorCode.Internal, "x") instanceof other.TetherError).toBe(true);
  });

  it("still says no for anything else, and a subclass checks its own instances", () => {
    class Narrow extends TetherError {}
    expect(new Error("x") instanceof TetherError).toBe(false);
    expect({ code: ErrorCode.NotFound, message: "x" } instanceof TetherError).toBe(false);
    expect((null as unknown as object) instanceof TetherError).toBe(false);
    expect(new Narrow(ErrorCode.Internal, "x") instanceof TetherError).toBe(true);
    expect(new Narrow(ErrorCode.Internal, "x") instanceof Narrow).toBe(true);
    expect(new TetherError(ErrorCode.Internal, "x") instanceof Narrow).toBe(false);
    expect(TetherError.from(new Error("plain")).code).toBe(ErrorCode.Internal);
  });
});
