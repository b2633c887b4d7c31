import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "./tether-error.js";
import { fromGrpcError, toGrpcStatus } from "./grpc-status.js";

describe("toGrpcStatus", () => {
  it("caps a message that echoes a huge input so the trailers stay under 8 KiB", () => {
    const status = toGrpcStatus(new TetherError(ErrorCode.InvalidArgument, `unknown signal ${"x".repeat(100_000)}`));
    expect(status.details.length).toBeLessThan(600);
    expect(status.details).toMatch(/more characters\)$/);
  });

  it("percent-encodes detail values grpc-js would refuse (non-ASCII, control chars, lone surrogates)", () => {
    const err = new TetherError(ErrorCode.PermissionDenied, "denied", { details: { path: "/tmp/ü\n\ud800%", plain: "/tmp/ok" } });
    const status = toGrpcStatus(err);
    expect(status.metadata?.get("tether-path")).toEqual(["/tmp/%C3%BC%0A%EF%BF%BD%25"]);
    expect(fromGrpcError(Object.assign(new Error("x"), { code: 7, details: "denied", metadata: status.metadata })).details).toEqual({ path: "/tmp/ü\n\ufffd%", plain: "/tmp/ok" });
    expect(status.metadata?.get("tether-plain")).toEqual(["/tmp/ok"]);
  });
});
