// What Codex learns about the environment at `initialize`: its shell, cwd, home and OS, and
// which optional protocol features this server has. tether claims none of Codex's extras
// (its network proxy, credential masking, shell snapshots, config reads, missing-path
// watches), so Codex's client keeps to the methods served here.
import { basename } from "node:path";
import os from "node:os";
import type { ExecCore } from "../exec-core.js";
import { toFileUrl } from "./codex-wire.js";

const CAPABILITIES = {
  networkProxyLaunch: false,
  networkProxyReviewDomains: false,
  networkProxyTransparentTcp: false,
  credentialMasking: false,
  credentialMaskingCustomProviders: false,
  capabilityDiscoverySandbox: false,
  fsWatchMissing: false,
  capabilityDiscoveryV2: false,
  environmentConfigRead: false,
  httpHeaderEnvVars: false,
  sandboxedFileStreaming: false,
  fileWriteStreaming: false,
  shellSnapshotV2: false,
  windowsMxc: false,
  linuxRootWritePreservesDevices: false,
  linuxApprovedRootWritePreservesRestrictions: false,
};

export function environmentInfo(core: ExecCore): Record<string, unknown> {
  const facts = core.facts;
  return {
    shell: { name: basename(facts.defaultShell), path: facts.defaultShell },
    executorVersion: facts.serverVersion,
    providerId: `tether:${facts.hostname}`,
    cwd: toFileUrl(core.defaultCwd),
    userHomeDir: toFileUrl(facts.homeDir || os.homedir()),
    platformOs: facts.os === "darwin" ? "macos" : facts.os,
    prependPathDirs: [],
    temporaryDirectories: [],
    tempDir: toFileUrl(os.tmpdir()),
    capabilities: CAPABILITIES,
  };
}
