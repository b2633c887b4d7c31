import { describe, expect, it } from "vitest";
import { EnvInherit } from "../../../common/wire-enums.js";
import { commandEnvironment } from "./command-env.js";

describe("commandEnvironment (config's shell_environment_policy)", () => {
  it("without a policy: everything inherited, plain-output variables set", () => {
    expect(commandEnvironment(undefined)).toEqual({ env: expect.objectContaining({ NO_COLOR: "1", PAGER: "cat" }) });
  });

  it("maps inherit, excludes in any case, Codex's default excludes when asked, and set on top", () => {
    const spec = commandEnvironment({ inherit: "core", exclude: ["aws_*"], ignore_default_excludes: false, set: { PAGER: "less", CI: "1" } });
    expect(spec.envPolicy?.inherit).toBe(EnvInherit.CORE);
    expect(spec.envPolicy?.exclude).toEqual(expect.arrayContaining(["aws_*", "AWS_*", "*KEY*", "*key*", "*SECRET*", "*TOKEN*"]));
    expect(spec.env).toMatchObject({ PAGER: "less", CI: "1", NO_COLOR: "1" });
    expect(commandEnvironment({}).envPolicy).toEqual({ inherit: EnvInherit.ALL, exclude: [] });
  });
});
