// Finds bubblewrap and proves once per process that it can build the namespaces tether
// uses, so a sandbox that cannot be built fails up front with a fix, not mid-command.

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export type BwrapSupport = { ok: true; path: string; version: string } | { ok: false; reason: string };

export interface SandboxSupport {
  bwrap: BwrapSupport;
}

export interface DetectOptions {
  /** Look for bwrap here instead of on PATH. */
  bwrapPath?: string;
  /** Probe again instead of answering from the cache. */
  refresh?: boolean;
}

const PROBE_TIMEOUT_MS = 10_000;
const SETUP_HINT = "run scripts/setup.sh (it installs bubblewrap), or apt-get install bubblewrap";
const USERNS_HINT =
  "allow unprivileged user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` " +
  "(Ubuntu 24.04+: also `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), " +
  "or in a container run it with --privileged or a seccomp/apparmor profile that allows unshare";

let cached: Promise<SandboxSupport> | undefined;

export function detectSandboxSupport(options: DetectOptions = {}): Promise<SandboxSupport> {
  if (options.bwrapPath !== undefined) return probe(options.bwrapPath);
  if (cached === undefined || options.refresh === true) cached = probe(undefined);
  return cached;
}

async function probe(explicitPath: string | undefined): Promise<SandboxSupport> {
  const bwrapPath = explicitPath ?? findOnPath("bwrap");
  if (bwrapPath === undefined) {
    return { bwrap: { ok: false, reason: `bubblewrap (bwrap) is not on PATH: ${SETUP_HINT}` } };
  }
  const version = await run(bwrapPath, ["--version"]);
  if (version.error !== undefined) {
    return { bwrap: { ok: false, reason: `${bwrapPath} --version failed (${version.error}): ${SETUP_HINT}` } };
  }
  // The same namespaces and mounts every sandbox uses: a probe that only tried `--ro-bind /`
  // would pass in containers that then refuse `--proc` or `--unshare-net`.
  const flags = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  flags.push("--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent", "--cap-drop", "ALL", "--", "true");
  const tried = await run(bwrapPath, flags);
  if (tried.error !== undefined) {
    return {
      bwrap: { ok: false, reason: `bubblewrap is installed but cannot build a sandbox (${tried.error.trim()}): ${USERNS_HINT}` },
    };
  }
  return { bwrap: { ok: true, path: bwrapPath, version: version.stdout.trim().replace(/^bubblewrap\s+/, "") } };
}

function findOnPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(path.delimiter);
  for (const dir of [...dirs, "/usr/bin", "/usr/local/bin"]) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  return undefined;
}

function run(file: string, args: string[]): Promise<{ stdout: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: PROBE_TIMEOUT_MS, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err === null) resolve({ stdout });
      else resolve({ stdout, error: stderr.trim() || err.message });
    });
  });
}
