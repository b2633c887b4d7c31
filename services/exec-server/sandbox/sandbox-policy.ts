// The sandbox policy model: turns a wire SandboxPolicy into a validated ResolvedSandbox,
// and answers "how may this path be touched" with the same rules the bwrap argv enforces.
//
// How access is decided for one resolved path:
//   1. The explicit file rules that match the path (a path rule matches itself and its
//      subtree; a glob matches a path or an ancestor). If any match, the strictest of them
//      wins (none > write > read) and the mode is not consulted: a WRITE rule opens a
//      directory inside a read-only tree, a READ rule freezes one inside a writable root,
//      a NONE rule hides.
//   2. Otherwise the mode's baseline: full-access writes everywhere; read-only reads
//      everywhere; workspace-write writes below the writable roots and reads elsewhere.
//   In both, a write grant (root or WRITE rule) stops at `.git` and `.tether` directly
//   below the granted directory: those stay read-only unless a WRITE rule names them.
//   Inside a sandbox (not full access), host /tmp, /var/tmp and /run are replaced by
//   private scratch directories (they hold other programs' Unix sockets), so the host
//   paths there are "none" unless a root, a rule or `readableRoots` brings them back.

import path from "node:path";
import {
  FileAccess,
  NetworkMode,
  SandboxMode,
  type SandboxPolicy,
} from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { MAX_GLOB_LENGTH, PATH_MAX } from "../../common/glob-matcher.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { canonicalPath } from "./canonical-path.js";
import type { FileAccessLevel, FileAccessPolicy } from "./file-access.js";
import { PathPattern, isWithin } from "./path-pattern.js";

export type SandboxModeName = "full-access" | "read-only" | "workspace-write";

export interface ResolvedSandbox {
  mode: SandboxModeName;
  writableRoots: string[];
  rules: { pattern: string; access: FileAccessLevel }[];
  /** askController: hosts matching neither list are asked of the session's controller (PROXY only). */
  network: { mode: "off" | "on" | "proxy"; allowHosts: string[]; denyHosts: string[]; askController?: boolean };
  allowedUnixSockets: string[];
  /**
   * Paths kept readable even under the hidden scratch dirs (/tmp, /run): the command's
   * cwd by default, so a read-only command started in /tmp/x still sees its directory.
   */
  readableRoots?: string[];
}

/** Directories a command writes into; `.git` and `.tether` below a grant stay read-only. */
export const PROTECTED_NAMES = [".git", ".tether"] as const;

/** Host directories replaced by private scratch space inside a sandbox (they hold sockets). */
export const SCRATCH_DIRS = ["/tmp", "/var/tmp", "/run"] as const;

const LEVEL_RANK: Record<FileAccessLevel, number> = { read: 0, write: 1, none: 2 };

/**
 * What one policy may hold. Every file call checks each rule against the path, so the
 * glob rules bound that work: at most MAX_GLOB_FILE_RULES × GlobMatcher's MAX_MATCH_STEPS
 * (measured: about 1 ms per worst-case glob against a PATH_MAX path on this machine).
 */
export const SANDBOX_LIMITS = {
  fileRules: 256,
  globFileRules: 32,
  writableRoots: 64,
  allowedUnixSockets: 64,
  /** Each of allow_hosts and deny_hosts. */
  hosts: 256,
  /** RFC 1035's longest host name. */
  hostLength: 253,
  /**
   * Bytes of all roots, rules and sockets together: each is normalised and resolved on every
   * file call, so the total (not only each path's PATH_MAX) bounds that work.
   */
  pathBytes: 64 * 1024,
} as const;

function checkCount(field: string, count: number, limit: number, name: string): void {
  if (count > limit) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} has ${count} entries; the limit is ${limit} (${name}): merge or drop some`);
  }
}

function checkPathLength(field: string, p: string): void {
  const bytes = Buffer.byteLength(p);
  if (bytes > PATH_MAX) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} is ${bytes} bytes; the limit is ${PATH_MAX} (PATH_MAX)`);
  }
}

/**
 * The sizes of a client's policy, checked before any of it is used (no file system
 * access): counts, path lengths, glob lengths. `prefix` names the field
 * (`spec.sandbox`, `default_sandbox`).
 */
export function checkSandboxLimits(policy: SandboxPolicy | undefined, prefix = "sandbox"): void {
  if (!policy) return;
  const L = SANDBOX_LIMITS;
  checkCount(`${prefix}.file_rules`, policy.fileRules.length, L.fileRules, "MAX_FILE_RULES");
  checkCount(`${prefix}.writable_roots`, policy.writableRoots.length, L.writableRoots, "MAX_WRITABLE_ROOTS");
  checkCount(`${prefix}.allowed_unix_sockets`, policy.allowedUnixSockets.length, L.allowedUnixSockets, "MAX_UNIX_SOCKETS");
  checkCount(`${prefix}.network.allow_hosts`, policy.network?.allowHosts.length ?? 0, L.hosts, "MAX_HOSTS");
  checkCount(`${prefix}.network.deny_hosts`, policy.network?.denyHosts.length ?? 0, L.hosts, "MAX_HOSTS");
  let globs = 0;
  policy.fileRules.forEach((rule, i) => {
    const field = `${prefix}.file_rules[${i}].pattern`;
    checkPathLength(field, rule.pattern);
    const wildcard = rule.pattern.search(/[*?]/);
    if (wildcard < 0) return;
    globs++;
    // From the first wildcard segment on is what the matcher walks state by state.
    const wild = rule.pattern.length - (rule.pattern.lastIndexOf("/", wildcard) + 1);
    if (wild > MAX_GLOB_LENGTH) {
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `${field} has ${wild} characters from its first wildcard segment on; the limit is ${MAX_GLOB_LENGTH} (MAX_GLOB_LENGTH): start the glob from a deeper directory or shorten it`,
      );
    }
  });
  checkCount(`${prefix}.file_rules (globs)`, globs, L.globFileRules, "MAX_GLOB_FILE_RULES");
  policy.writableRoots.forEach((p, i) => checkPathLength(`${prefix}.writable_roots[${i}]`, p));
  let pathBytes = 0;
  for (const p of [...policy.writableRoots, ...policy.allowedUnixSockets, ...policy.fileRules.map((r) => r.pattern)]) pathBytes += Buffer.byteLength(p);
  if (pathBytes > L.pathBytes) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `${prefix} holds ${pathBytes} bytes of paths (writable_roots, allowed_unix_sockets, file_rules); the limit is ${L.pathBytes} (MAX_POLICY_PATH_BYTES)`,
    );
  }
  policy.allowedUnixSockets.forEach((p, i) => checkPathLength(`${prefix}.allowed_unix_sockets[${i}]`, p));
  for (const list of ["allowHosts", "denyHosts"] as const) {
    (policy.network?.[list] ?? []).forEach((h, i) => {
      if (h.length > L.hostLength + 2) {
        // +2: a trailing dot and brackets around an IPv6 address are trimmed later.
        const field = `${prefix}.network.${list === "allowHosts" ? "allow_hosts" : "deny_hosts"}[${i}]`;
        throw new TetherError(ErrorCode.InvalidArgument, `${field} is ${h.length} characters; the limit is ${L.hostLength} (a DNS name's maximum)`);
      }
    });
  }
}

export function resolveSandboxPolicy(
  policy: SandboxPolicy | undefined,
  defaults: { cwd: string; defaultMode: SandboxModeName },
): ResolvedSandbox {
  if (!path.isAbsolute(defaults.cwd)) {
    throw new TetherError(ErrorCode.InvalidArgument, `cwd "${defaults.cwd}" is not absolute: pass an absolute path`);
  }
  checkSandboxLimits(policy);
  const cwd = canonicalPath(defaults.cwd);
  const mode = modeName(policy?.mode ?? SandboxMode.UNSPECIFIED, defaults.defaultMode);

  const roots = (policy?.writableRoots ?? []).map((p, i) => absolute(p, `sandbox.writable_roots[${i}]`));
  // Roots only mean something in workspace-write; with no roots the cwd is the workspace.
  const writableRoots = mode === "workspace-write" ? dedupe(roots.length > 0 ? roots : [cwd]) : [];

  const rules = (policy?.fileRules ?? []).map((rule, i) => {
    const field = `sandbox.file_rules[${i}]`;
    return { pattern: rulePattern(rule.pattern, `${field}.pattern`), access: accessName(rule.access, `${field}.access`) };
  });

  const allowedUnixSockets = dedupe(
    (policy?.allowedUnixSockets ?? []).map((p, i) => absolute(p, `sandbox.allowed_unix_sockets[${i}]`)),
  );

  return { mode, writableRoots, rules, network: network(policy, mode), allowedUnixSockets, readableRoots: [cwd] };
}

export function fileAccessPolicy(s: ResolvedSandbox): FileAccessPolicy {
  const rules = s.rules.map((r) => ({ pattern: new PathPattern(r.pattern), access: r.access }));
  const sandboxed = s.mode !== "full-access";
  const readable = s.readableRoots ?? [];

  const baseline = (p: string): FileAccessLevel => {
    if (s.mode === "full-access") return "write";
    const root = s.writableRoots.find((r) => isWithin(p, r));
    if (root !== undefined) return isProtected(p, root) ? "read" : "write";
    if (sandboxed && SCRATCH_DIRS.some((d) => isWithin(p, d)) && !readable.some((r) => isWithin(p, r))) {
      return "none";
    }
    return "read";
  };

  const accessFor = (absPath: string): FileAccessLevel => {
    const p = path.resolve(absPath);
    let best: FileAccessLevel | undefined;
    let writeGranted = false;
    for (const rule of rules) {
      const base = rule.pattern.matchBase(p);
      if (base === undefined) continue;
      if (best === undefined || LEVEL_RANK[rule.access] > LEVEL_RANK[best]) best = rule.access;
      if (rule.access === "write" && !isProtected(p, base)) writeGranted = true;
    }
    if (best === undefined) return baseline(p);
    // Every matching WRITE rule stopped at a protected dir: the path stays read-only.
    if (best === "write" && !writeGranted) return "read";
    return best;
  };

  return { accessFor, describe: () => describeSandbox(s) };
}

function describeSandbox(s: ResolvedSandbox): string {
  const parts: string[] = [s.mode];
  if (s.writableRoots.length > 0) parts.push(`roots: ${s.writableRoots.join(", ")}`);
  if (s.rules.length > 0) parts.push(`rules: ${s.rules.map((r) => `${r.pattern}=${r.access}`).join(", ")}`);
  parts.push(`network: ${s.network.mode}`);
  return `${parts[0]} (${parts.slice(1).join("; ")})`;
}

/** True when p is inside `<grant>/.git` or `<grant>/.tether`. */
function isProtected(p: string, grant: string): boolean {
  return PROTECTED_NAMES.some((name) => isWithin(p, path.join(grant, name)));
}

function modeName(mode: SandboxMode, fallback: SandboxModeName): SandboxModeName {
  switch (mode) {
    case SandboxMode.UNSPECIFIED:
      return fallback;
    case SandboxMode.FULL_ACCESS:
      return "full-access";
    case SandboxMode.READ_ONLY:
      return "read-only";
    case SandboxMode.WORKSPACE_WRITE:
      return "workspace-write";
    default:
      throw new TetherError(ErrorCode.InvalidArgument, `sandbox.mode ${String(mode)} is unknown: use READ_ONLY, WORKSPACE_WRITE or FULL_ACCESS`);
  }
}

function accessName(access: FileAccess, field: string): FileAccessLevel {
  switch (access) {
    case FileAccess.READ:
      return "read";
    case FileAccess.WRITE:
      return "write";
    case FileAccess.NONE:
      return "none";
    default:
      throw new TetherError(ErrorCode.InvalidArgument, `${field} is ${String(access)}: set FILE_ACCESS_READ, FILE_ACCESS_WRITE or FILE_ACCESS_NONE`);
  }
}

function network(policy: SandboxPolicy | undefined, mode: SandboxModeName): ResolvedSandbox["network"] {
  const net = policy?.network;
  const allowHosts = (net?.allowHosts ?? []).map((h, i) => hostPattern(h, `sandbox.network.allow_hosts[${i}]`));
  const denyHosts = (net?.denyHosts ?? []).map((h, i) => hostPattern(h, `sandbox.network.deny_hosts[${i}]`));
  let netMode: ResolvedSandbox["network"]["mode"];
  switch (net?.mode ?? NetworkMode.UNSPECIFIED) {
    case NetworkMode.UNSPECIFIED:
      netMode = mode === "full-access" ? "on" : "off";
      break;
    case NetworkMode.OFF:
      netMode = "off";
      break;
    case NetworkMode.ON:
      netMode = "on";
      break;
    case NetworkMode.PROXY:
      netMode = "proxy";
      break;
    default:
      throw new TetherError(ErrorCode.InvalidArgument, `sandbox.network.mode ${String(net?.mode)} is unknown: use OFF, ON or PROXY`);
  }
  if (netMode !== "proxy" && net?.askController) {
    throw new TetherError(ErrorCode.InvalidArgument, "sandbox.network.ask_controller only applies through the proxy: set sandbox.network.mode to NETWORK_MODE_PROXY");
  }
  if (netMode !== "proxy" && allowHosts.length + denyHosts.length > 0) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      "sandbox.network.allow_hosts/deny_hosts only apply through the proxy: set sandbox.network.mode to NETWORK_MODE_PROXY",
    );
  }
  return { mode: netMode, allowHosts, denyHosts, askController: net?.askController ?? false };
}

const HOST_RE = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const IPV6_RE = /^[0-9a-f:.]+$/;

function hostPattern(host: string, field: string): string {
  let h = host.trim().toLowerCase().replace(/\.$/, "");
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (HOST_RE.test(h) || (h.includes(":") && IPV6_RE.test(h))) return h;
  throw new TetherError(
    ErrorCode.InvalidArgument,
    `${field} "${host}" is not a host name: use a name like example.com, an IP address, or *.example.com for its subdomains`,
  );
}

function rulePattern(pattern: string, field: string): string {
  if (!pattern.startsWith("/")) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} "${pattern}" is not absolute: rules take an absolute path or an absolute glob`);
  }
  if (!/[*?]/.test(pattern)) return canonicalPath(pattern);
  const segments = pattern.split("/");
  if (segments.some((s) => s === "." || s === "..")) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} "${pattern}" contains "." or "..": write the glob without them`);
  }
  // Rules are compared with resolved paths, so resolve the literal part of the glob too.
  const first = segments.findIndex((s) => /[*?]/.test(s));
  const literal = segments.slice(0, first).join("/") || "/";
  const rest = segments.slice(first).join("/");
  const base = canonicalPath(literal);
  return base === "/" ? `/${rest}` : `${base}/${rest}`;
}

function absolute(p: string, field: string): string {
  if (!path.isAbsolute(p)) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} "${p}" is not absolute: pass an absolute path`);
  }
  return canonicalPath(p);
}

function dedupe(paths: string[]): string[] {
  return [...new Set(paths)];
}
