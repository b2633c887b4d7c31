// Builds bubblewrap's flags for a ResolvedSandbox. The mount plan is derived from the
// same fileAccessPolicy the FileSystem service uses: every path where access can change
// (roots, protected dirs, rule matches, scratch dirs) is visited shallow-first and given
// the mount that shows what accessFor() says, so both enforce one rule set.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { FileAccessLevel, FileAccessPolicy } from "./file-access.js";
import { PathPattern, isWithin } from "./path-pattern.js";
import { expandGlob, findSockets } from "./path-walk.js";
import { PROTECTED_NAMES, SCRATCH_DIRS, fileAccessPolicy, type ResolvedSandbox } from "./sandbox-policy.js";

export interface BwrapArgsInput {
  sandbox: ResolvedSandbox;
  cwd: string;
  /** The command runs on a PTY: no --new-session (it would break job control). */
  tty: boolean;
  /** Empty mode-000 directory and file bound over hidden paths (reads fail with EACCES). */
  hiddenDir: string;
  hiddenFile: string;
  extraBinds: { path: string; writable: boolean }[];
  /** Host paths bound at the same path (the proxy socket). */
  internalBinds: string[];
  /** An fd the caller opens on a seccomp program for bwrap to load before exec. */
  seccompFd?: number;
  signal?: AbortSignal;
}

type View = FileAccessLevel | "scratch";

// Socket masking is best effort: a socket deeper than this, or past the entry budget of
// its tree, stays connectable (hide such trees with a NONE rule).
const SOCKET_SCAN_DEPTH = 4;
const SOCKET_SCAN_ENTRIES = 5_000;

export async function buildBwrapArgs(input: BwrapArgsInput): Promise<string[]> {
  const { sandbox: s } = input;
  const policy = fileAccessPolicy(s);
  if (policy.accessFor(input.cwd) === "none") {
    throw new TetherError(
      ErrorCode.FailedPrecondition,
      `cwd ${input.cwd} is hidden by the sandbox policy ${policy.describe()}: start the command elsewhere or grant the directory`,
    );
  }
  const sandboxed = s.mode !== "full-access";
  // A minimal /dev even for full access with carve-outs: the host's block devices would
  // let an owner-uid process read the disk underneath every NONE rule.
  const args = [sandboxed ? "--ro-bind" : "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
  // bwrap 0.8 run by real root leaves /proc/sys writable, and uid 0 without capabilities
  // may still write most sysctls (found by the escape suite): make it read-only ourselves.
  args.push("--ro-bind", "/proc/sys", "/proc/sys", "--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger");

  const { candidates, exposed } = await collectCandidates(s, input.signal);
  args.push(...planMounts(candidates, policy, sandboxed, input));
  if (sandboxed) {
    for (const sock of await exposedSockets(exposed, policy, s.allowedUnixSockets, input.signal)) {
      args.push("--ro-bind", input.hiddenFile, sock);
    }
  }
  args.push(...allowedSocketBinds(s));
  for (const bind of input.extraBinds) {
    if (lstat(bind.path) === undefined) {
      throw new TetherError(ErrorCode.FailedPrecondition, `extra sandbox bind ${bind.path} does not exist: create it before wrapping`);
    }
    args.push(bind.writable ? "--bind" : "--ro-bind", bind.path, bind.path);
  }
  for (const p of input.internalBinds) args.push("--ro-bind", p, p);

  args.push("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent");
  if (s.network.mode !== "on") args.push("--unshare-net");
  // As real root bwrap keeps every capability unless told otherwise, and CAP_SYS_ADMIN
  // could simply remount / read-write. Unprivileged bwrap already drops them all.
  if (process.getuid?.() === 0) args.push("--cap-drop", "ALL");
  // Without a PTY the command gets its own session, so it has no controlling terminal to
  // push input into (TIOCSTI). On a PTY a new session would break job control; the PTY
  // belongs to this command alone, so injected input only reaches the command itself
  // (with zsh-fork an escalated program shares it: see tty-seccomp.ts for the filter).
  if (!input.tty) args.push("--new-session");
  if (input.seccompFd !== undefined) args.push("--seccomp", String(input.seccompFd));
  args.push("--chdir", input.cwd);
  return args;
}

/**
 * Every path where access can change (scratch dirs, roots and their protected dirs, rule
 * matches), plus the readable or writable trees whose sockets must be masked.
 */
async function collectCandidates(s: ResolvedSandbox, signal: AbortSignal | undefined): Promise<{ candidates: Set<string>; exposed: string[] }> {
  const candidates = new Set<string>();
  const exposed = [...(s.readableRoots ?? []), ...s.writableRoots, os.homedir()];
  if (s.mode !== "full-access") for (const d of SCRATCH_DIRS) candidates.add(d);
  for (const r of [...(s.readableRoots ?? []), ...s.writableRoots]) addWithProtected(candidates, r);
  for (const rule of s.rules) {
    const pattern = new PathPattern(rule.pattern);
    const matches = pattern.isGlob ? await expandGlob(pattern, signal) : [pattern.literalBase];
    for (const m of matches) {
      if (rule.access === "write") addWithProtected(candidates, m);
      else candidates.add(m);
      if (rule.access !== "none") exposed.push(m);
    }
  }
  return { candidates, exposed };
}

/** Mounts shallow-first, so a deeper mount lands on top of its parent's. */
function planMounts(candidates: Set<string>, policy: FileAccessPolicy, sandboxed: boolean, input: BwrapArgsInput): string[] {
  const args: string[] = [];
  const ordered = [...candidates].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  const views = new Map<string, View>();
  const viewAt = (p: string): View => {
    for (let cur = path.dirname(p); ; cur = path.dirname(cur)) {
      const v = views.get(cur);
      if (v !== undefined) return v;
      if (cur === "/") return sandboxed ? "read" : "write";
    }
  };
  for (const p of ordered) {
    const stat = lstat(p);
    // Missing paths need no mount; symlinks are skipped because bwrap would mount on their
    // target while the policy (asked with resolved paths) treats the link path separately.
    if (stat === undefined || stat.isSymbolicLink()) continue;
    const inherited = viewAt(p);
    if (inherited === "none") continue; // inside a hidden tree nothing is visible anyway
    const want = policy.accessFor(p);
    if (sandboxed && want === "none" && (SCRATCH_DIRS as readonly string[]).includes(p)) {
      args.push("--perms", "1777", "--tmpfs", p);
      views.set(p, "scratch");
      continue;
    }
    if (want === inherited || (want === "none" && inherited === "scratch")) continue;
    if (want === "read") args.push("--ro-bind", p, p);
    else if (want === "write") args.push("--bind", p, p);
    else args.push("--ro-bind", stat.isDirectory() ? input.hiddenDir : input.hiddenFile, p);
    views.set(p, want);
  }
  return args;
}

/**
 * A readable socket file is a connectable one (a read-only mount does not stop connect()),
 * so sockets the command could see in its roots, rule paths and the home directory are
 * covered by the unreadable placeholder. Host scratch dirs (/tmp, /run) are hidden whole.
 */
async function exposedSockets(
  dirs: string[],
  policy: FileAccessPolicy,
  allowed: string[],
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of new Set(dirs)) {
    if (policy.accessFor(dir) === "none") continue;
    const sockets = await findSockets(dir, {
      maxDepth: SOCKET_SCAN_DEPTH,
      maxEntries: SOCKET_SCAN_ENTRIES,
      signal,
      skip: (p) => policy.accessFor(p) === "none",
    });
    for (const sock of sockets) if (!allowed.some((a) => isWithin(sock, a))) found.add(sock);
  }
  return [...found];
}

function allowedSocketBinds(s: ResolvedSandbox): string[] {
  const args: string[] = [];
  for (const sock of s.allowedUnixSockets) {
    const hidingRule = s.rules.find((r) => r.access === "none" && new PathPattern(r.pattern).matchBase(sock) !== undefined);
    if (hidingRule !== undefined) {
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `allowed unix socket ${sock} is inside ${hidingRule.pattern}, which a NONE rule hides: remove one of the two`,
      );
    }
    // A socket that does not exist yet cannot be bound; the command simply cannot reach it.
    if (lstat(sock) !== undefined) args.push("--ro-bind", sock, sock);
  }
  return args;
}

function addWithProtected(set: Set<string>, dir: string): void {
  set.add(dir);
  for (const name of PROTECTED_NAMES) set.add(path.join(dir, name));
}

function depth(p: string): number {
  return p === "/" ? 0 : p.split("/").length - 1;
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined; // Missing or unreadable: treated as absent, nothing to mount.
  }
}
