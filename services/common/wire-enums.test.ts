import { describe, expect, it } from "vitest";
import * as fs from "../../gen/tether/exec/v1/filesystem_pb.js";
import * as proc from "../../gen/tether/exec/v1/process_pb.js";
import * as sandbox from "../../gen/tether/exec/v1/sandbox_pb.js";
import * as wire from "./wire-enums.js";

/** A TS enum's names and values, without its reverse (number → name) entries. */
const forward = (e: object) => Object.fromEntries(Object.entries(e).filter(([k]) => !/^\d+$/.test(k)));

describe("wire-enums", () => {
  it.each([
    ["FileType", wire.FileType, fs.FileType],
    ["EnvInherit", wire.EnvInherit, proc.EnvInherit],
    ["OverflowPolicy", wire.OverflowPolicy, proc.OverflowPolicy],
    ["ProcessState", wire.ProcessState, proc.ProcessState],
    ["SandboxMode", wire.SandboxMode, sandbox.SandboxMode],
    ["FileAccess", wire.FileAccess, sandbox.FileAccess],
    ["NetworkMode", wire.NetworkMode, sandbox.NetworkMode],
  ])("%s has the generated enum's names and values", (_name, copy, generated) => {
    expect(copy).toEqual(forward(generated));
  });
});
