import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvInherit, ProcessSpecSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode } from "../../common/tether-error.js";
import { buildEnv, checkSpec, globMatch } from "./process-spec.js";

describe("globMatch", () => {
  it.each([
    ["*", "", true],
    ["AWS_*", "AWS_SECRET", true],
    ["AWS_*", "XAWS_SECRET", false],
    ["*_TOKEN", "GITHUB_TOKEN", true],
    ["*_TOKEN", "GITHUB_TOKENS", false],
    ["A?C", "ABC", true],
    ["A?C", "AC", false],
    ["*A*B*", "xxAyyBzz", true],
    ["*A*B*", "xxByyAzz", false],
    ["a.b", "aXb", false],
    ["[x]", "[x]", true],
  ])("%s against %s is %s", (glob, name, want) => expect(globMatch(glob, name)).toBe(want));

  it("stays fast on globs that make a RegExp backtrack", () => {
    expect(globMatch("*a".repeat(200) + "b", "a".repeat(250))).toBe(false);
  });
});

describe("env_policy.exclude", () => {
  const spec = (exclude: string[]) =>
    create(ProcessSpecSchema, { argv: ["true"], envPolicy: { inherit: EnvInherit.ALL, exclude } });

  it("drops inherited variables that match", () => {
    const env = buildEnv(spec(["SECRET_*"]), { SECRET_A: "1", KEEP: "2" });
    expect(env).toEqual({ KEEP: "2" });
  });

  it("refuses too many or too long globs with INVALID_ARGUMENT", () => {
    expect(() => checkSpec(spec(["x".repeat(100_000)]))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => checkSpec(spec(Array.from({ length: 1000 }, (_, i) => `V${i}`)))).toThrow(/at most 256 globs/);
  });
});
