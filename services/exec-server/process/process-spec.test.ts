import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvInherit, ProcessSpecSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { FileAccess } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode } from "../../common/tether-error.js";
import { buildEnv, checkSpec, resolveExecutable } from "./process-spec.js";

describe("env_policy.exclude", () => {
  const spec = (exclude: string[]) =>
    create(ProcessSpecSchema, { argv: ["true"], envPolicy: { inherit: EnvInherit.ALL, exclude } });

  it("drops inherited variables that match", () => {
    const env = buildEnv(spec(["SECRET_*"]), { SECRET_A: "1", KEEP: "2" });
    expect(env).toEqual({ KEEP: "2" });
  });

  it("matches globs that make a RegExp backtrack without blowing up", () => {
    // 128 a's wanted, 127 present: a backtracking matcher tries every split of the stars.
    const env = buildEnv(spec(["*a".repeat(128)]), { ["a".repeat(127)]: "1", ["a".repeat(128)]: "2", KEEP: "3" });
    expect(env).toEqual({ ["a".repeat(127)]: "1", KEEP: "3" });
  });

  it("refuses too many or too long globs with INVALID_ARGUMENT", () => {
    expect(() => checkSpec(spec(["x".repeat(100_000)]))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => checkSpec(spec(Array.from({ length: 1000 }, (_, i) => `V${i}`)))).toThrow(/at most 256 globs/);
  });
});

describe("checkSpec limits", () => {
  const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(message) });

  it("refuses more labels than MAX_LABELS", () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    expect(() => checkSpec(create(ProcessSpecSchema, { argv: ["true"], labels }))).toThrow(invalid(/spec\.labels has 65 labels; the limit is 64/));
  });

  it("refuses a cwd longer than PATH_MAX and a PATH of more than 1024 entries", async () => {
    expect(() => checkSpec(create(ProcessSpecSchema, { argv: ["true"], cwd: `/${"c".repeat(4096)}` }))).toThrow(invalid(/spec\.cwd is 4097 bytes; the limit is 4096/));
    const err = await resolveExecutable("true", "/", { PATH: Array(2000).fill("/nonexistent").join(":") }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/PATH has 2000 entries; the limit is 1024/) });
  });

  it("checks the sandbox's sizes before anything uses them", () => {
    const rules = (n: number, pattern: (i: number) => string) =>
      create(ProcessSpecSchema, { argv: ["true"], sandbox: { fileRules: Array.from({ length: n }, (_, i) => ({ pattern: pattern(i), access: FileAccess.NONE })) } });
    expect(() => checkSpec(rules(257, (i) => `/r${i}`))).toThrow(invalid(/spec\.sandbox\.file_rules has 257 entries; the limit is 256/));
    expect(() => checkSpec(rules(33, (i) => `/r${i}/*`))).toThrow(invalid(/MAX_GLOB_FILE_RULES/));
    expect(() => checkSpec(rules(1, () => `/w/${"*a".repeat(200)}`))).toThrow(invalid(/file_rules\[0\]\.pattern has 400 characters .* limit is 256/));
    expect(() => checkSpec(rules(1, () => `/${"d".repeat(5000)}`))).toThrow(invalid(/PATH_MAX/));
    // A long literal prefix is fine: only the wildcard part is matched state by state.
    expect(checkSpec(rules(1, () => `/${"d".repeat(3000)}/**/*.pem`)).sandbox?.fileRules).toHaveLength(1);
  });
});
