// Builds bubblewrap's flags for a ResolvedSandbox. The mount plan is derived from the
// same fileAccessPolicy the FileSystem service uses: every path where access can change
// (roots, protected dirs, rule matches, scratch dirs) is visited shallow-first and given
// the mount that shows what accessFor() says, so both enforce one rule set.

import fs from "node:fs";
import path from "node:path";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import type { FileAccessLevel } from "./file-access.js";
import { PathPattern } from "./path-pattern.js";
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
  signal?: AbortSignal;
}

/** Glob expansion visits at most this many directory entries before giving up. */
const MAX_GLOB_ENTRIES = 50_000;
const NEVER_WALK = ["/proc", "/sys", "/dev"];

type View = FileAccessLevel | "scratch";

export async function buildBwrapArgs(input: BwrapArgsInput): Promise<string[]> {
  const { sandbox: s } = input;
  const policy = fileAccessPolicy(s);
  const sandboxed = s.mode !== "full-access";

  const cwdAccess = policy.accessFor(input.cwd);
  if (cwdAccess === "none") {
    throw new TetherError(
      ErrorCode.FailedPrecondition,
      `cwd ${input.cwd} is hidden by the sandbox policy ${policy.describe()}: start the command elsewhere or grant the directory`,
    );
  }

  const args: string[] = sandboxed ? ["--ro-bind", "/", "/", "--dev", "/dev"] : ["--bind", "/", "/", "--dev-bind", "/dev", "/dev"];
  args.push("--proc", "/proc");

  const candidates = new Set<string>();
  if (sandboxed) for (const d of SCRATCH_DIRS) candidates.add(d);
  for (const r of [...(s.readableRoots ?? []), ...s.writableRoots]) addWithProtected(candidates, r);
  for (const rule of s.rules) {
    const pattern = new PathPattern(rule.pattern);
    const matches = pattern.isGlob ? await expandGlob(pattern, input.signal) : [pattern.literalBase];
    for (const m of matches) {
      if (rule.access === "write") addWithProtected(candidates, m);
      else candidates.add(m);
    }
  }

  // Shallow first, so a deeper mount lands on top of its parent's.
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
    const isScratch = sandboxed && (SCRATCH_DIRS as readonly string[]).includes(p);
    if (isScratch && want === "none") {
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
  // (see sandboxer.ts for the zsh-fork escalation caveat).
  if (!input.tty) args.push("--new-session");
  args.push("--chdir", input.cwd);
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

/** Existing paths a glob matches now. Paths created later are not covered (documented). */
async function expandGlob(pattern: PathPattern, signal: AbortSignal | undefined): Promise<string[]> {
  const matches: string[] = [];
  const queue = [pattern.literalBase];
  let visited = 0;
  while (queue.length > 0) {
    throwIfAborted(signal);
    const dir = queue.shift() as string;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      continue; // Unreadable or vanished directory: nothing of it can be matched.
    }
    for (const entry of entries) {
      if (++visited > MAX_GLOB_ENTRIES) {
        throw new TetherError(
          ErrorCode.FailedPrecondition,
          `file rule ${pattern.source} needs more than ${MAX_GLOB_ENTRIES} directory entries to expand: start the glob from a deeper directory`,
        );
      }
      const full = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
      if (pattern.matchBase(full) === full) {
        matches.push(full); // its subtree is covered by this match
      } else if (entry.isDirectory() && !NEVER_WALK.includes(full)) {
        queue.push(full);
      }
    }
  }
  return matches;
}
