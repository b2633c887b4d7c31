// Maps `tether run`'s sandbox flags to the protocol's SandboxPolicy.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { FileAccess, NetworkMode, SandboxMode, type SandboxPolicySchema } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { parseChoice } from "./cli-options.js";

const MODES = { "read-only": SandboxMode.READ_ONLY, "workspace-write": SandboxMode.WORKSPACE_WRITE, "full-access": SandboxMode.FULL_ACCESS } as const;
const NETWORK = { off: NetworkMode.OFF, on: NetworkMode.ON } as const;

export function sandboxFromFlags(flags: {
  sandbox?: string;
  writableRoot: string[];
  deny: string[];
  network?: string;
}): MessageInitShape<typeof SandboxPolicySchema> | undefined {
  if (!flags.sandbox && flags.writableRoot.length === 0 && flags.deny.length === 0 && !flags.network) return undefined;
  const mode = flags.sandbox ? MODES[parseChoice("--sandbox", flags.sandbox, Object.keys(MODES) as (keyof typeof MODES)[])] : SandboxMode.UNSPECIFIED;
  if (flags.writableRoot.length > 0 && mode !== SandboxMode.WORKSPACE_WRITE) {
    throw new TetherError(ErrorCode.InvalidArgument, "--writable-root needs --sandbox workspace-write");
  }
  return {
    mode,
    writableRoots: flags.writableRoot,
    fileRules: flags.deny.map((pattern) => ({ pattern, access: FileAccess.NONE })),
    network: flags.network ? { mode: NETWORK[parseChoice("--network", flags.network, ["off", "on"] as const)] } : undefined,
  };
}
