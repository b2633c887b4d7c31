// How a thread's sandbox mode becomes the exec layer's SandboxPolicy for one command, and
// how a sandbox refusal is recognised so on-failure can offer to run the command again
// without it.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ExitStatus } from "../../../../gen/tether/exec/v1/process_pb.js";
import type { SandboxPolicySchema } from "../../../../gen/tether/exec/v1/sandbox_pb.js";
import { FileAccess, NetworkMode, SandboxMode as WireMode } from "../../../common/wire-enums.js";
import type { SandboxMode } from "../../policy/approval-types.js";

export type SandboxPolicyInit = MessageInitShape<typeof SandboxPolicySchema>;

export const FULL_ACCESS: SandboxPolicyInit = { mode: WireMode.FULL_ACCESS };

/** The execpolicy network rules the proxy applies itself (ExecPolicy.proxyHostLists). */
export interface NetworkHostLists {
  allowHosts: readonly string[];
  denyHosts: readonly string[];
}

const NO_HOSTS: NetworkHostLists = { allowHosts: [], denyHosts: [] };

/**
 * A sandboxed command reaches the network only through the exec layer's managed proxy: hosts
 * the rules allow or deny are decided there, any other host is asked of the session's
 * controller (the thread, which answers through its approval gate). Full access keeps full network.
 */
export function sandboxPolicyFor(mode: SandboxMode, writableRoots: readonly string[], unsandboxed: boolean, hosts: NetworkHostLists = NO_HOSTS): SandboxPolicyInit {
  if (unsandboxed || mode === "full-access") return FULL_ACCESS;
  const network = { mode: NetworkMode.PROXY, allowHosts: [...hosts.allowHosts], denyHosts: [...hosts.denyHosts], askController: true };
  // The roots (the thread's cwd among them) stay readable even under a scratch dir the sandbox hides (/tmp).
  if (mode === "read-only") return { mode: WireMode.READ_ONLY, fileRules: writableRoots.map((pattern) => ({ pattern, access: FileAccess.READ })), network };
  return { mode: WireMode.WORKSPACE_WRITE, writableRoots: [...writableRoots], network };
}

export function isSandboxed(policy: SandboxPolicyInit): boolean {
  return policy.mode !== WireMode.FULL_ACCESS;
}

/** What sandboxes make commands print when they refuse (bubblewrap's read-only binds, seccomp, no network). */
const DENIAL_TEXT = /permission denied|read-only file system|operation not permitted|EACCES|EROFS|EPERM/i;

/**
 * Whether a sandboxed command's failure looks like the sandbox's doing: the exit status says
 * so (the exec server knows proxy refusals for certain and reads the errno texts of a
 * write-restricted process's stderr), or, for an exec server that does not say, the output
 * shows the usual errno texts. A heuristic either way: a command may fail like this on its
 * own, and then asking to retry unsandboxed costs one question.
 */
export function looksLikeSandboxDenial(exit: ExitStatus, output: string): boolean {
  if (exit.code === 0 || exit.timedOut) return false;
  // A proxy refusal is an answer (a deny rule, the user, the approval policy): running the
  // command again without the sandbox would go around it, so it is not offered.
  if (isNetworkDenial(exit)) return false;
  if (exit.sandboxDenied) return true;
  // 127: command not found; 2: usage errors. Neither is the sandbox.
  if (exit.code === 127 || exit.code === 2) return false;
  return DENIAL_TEXT.test(output);
}

/** The exec server's proxy refused a connection (its denial reads "network: host:port (reason)"). */
export function isNetworkDenial(exit: ExitStatus): boolean {
  return exit.sandboxDenied && exit.sandboxDenial.startsWith("network:");
}

/** What the sandbox refused, for the retry question. */
export function denialDetail(exit: ExitStatus, output: string): string {
  return exit.sandboxDenial !== "" ? `${exit.sandboxDenial}\n${output}` : output;
}
