// The generated wire enums that the agent uses before its first model request (the tools'
// and instruction files' modules load then), as plain objects: importing gen/…_pb.js runs its
// file descriptor's boot and loads @bufbuild/protobuf, ≈ 30 ms of CPU at the start of every
// `tether exec` (issue 15), although the environment that needs them opens only after that
// request (LazyEnvironment). wire-enums.test.ts checks each against the generated enum; the
// types are the generated ones, so values mix freely.
import type * as fs from "../../gen/tether/exec/v1/filesystem_pb.js";
import type * as proc from "../../gen/tether/exec/v1/process_pb.js";
import type * as sandbox from "../../gen/tether/exec/v1/sandbox_pb.js";

export const FileType = { UNSPECIFIED: 0, FILE: 1, DIRECTORY: 2, SYMLINK: 3, OTHER: 4 } as unknown as typeof fs.FileType;
export const EnvInherit = { UNSPECIFIED: 0, ALL: 1, CORE: 2, NONE: 3 } as unknown as typeof proc.EnvInherit;
export const OverflowPolicy = { UNSPECIFIED: 0, BLOCK: 1, DROP_OLDEST: 2 } as unknown as typeof proc.OverflowPolicy;
export const ProcessState = { UNSPECIFIED: 0, RUNNING: 1, EXITED: 2 } as unknown as typeof proc.ProcessState;
export const SandboxMode = { UNSPECIFIED: 0, FULL_ACCESS: 1, READ_ONLY: 2, WORKSPACE_WRITE: 3 } as unknown as typeof sandbox.SandboxMode;
export const FileAccess = { UNSPECIFIED: 0, READ: 1, WRITE: 2, NONE: 3 } as unknown as typeof sandbox.FileAccess;
export const NetworkMode = { UNSPECIFIED: 0, OFF: 1, ON: 2, PROXY: 3 } as unknown as typeof sandbox.NetworkMode;
