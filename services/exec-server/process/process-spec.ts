// Checks a ProcessSpec once, at the edge of the core, and turns it into what the
// launcher needs: a resolved executable, an absolute cwd and the final environment.
// Every rejection names the field and says what to change.
import { type Stats, constants as fsConstants, accessSync, statSync } from "node:fs";
import path from "node:path";
import { EnvInherit, type ProcessSpec, ShellMode } from "../../../gen/tether/exec/v1/process_pb.js";
import { GlobMatcher, MAX_GLOB_LENGTH, PATH_MAX } from "../../common/glob-matcher.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { checkSandboxLimits } from "../sandbox/sandbox-policy.js";

export interface SpecLimits {
  /** Bytes of all environment entries together ("K=V\0"). */
  maxEnvBytes: number;
  maxArgvBytes: number;
  maxTtyDimension: number;
}

export const DEFAULT_SPEC_LIMITS: SpecLimits = { maxEnvBytes: 1 << 20, maxArgvBytes: 1 << 20, maxTtyDimension: 10_000 };

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function checkId(field: string, id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `${field} ${JSON.stringify(id.slice(0, 140))} is not valid: use 1-128 characters of [A-Za-z0-9._:-]`,
    );
  }
}

const MAX_ENV_EXCLUDES = 256;
/** Labels a process or session carries (each key ≤ 256, value ≤ 1024 characters). */
export const MAX_LABELS = 64;

const CORE_VARS = new Set(["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ"]);

/** The child's environment: inherited per policy, minus excluded names, plus the spec's variables. */
export function buildEnv(spec: ProcessSpec, serverEnv: NodeJS.ProcessEnv): Record<string, string> {
  const inherit = spec.envPolicy?.inherit ?? EnvInherit.UNSPECIFIED;
  // Compiled once per spec; a client's glob never becomes a RegExp (see glob-matcher.ts).
  const excludes = (spec.envPolicy?.exclude ?? []).map((glob, i) => GlobMatcher.compile(glob, "name", `spec.env_policy.exclude[${i}]`));
  const env: Record<string, string> = {};
  if (inherit !== EnvInherit.NONE) {
    for (const [name, value] of Object.entries(serverEnv)) {
      if (value === undefined) continue;
      if (inherit === EnvInherit.CORE && !CORE_VARS.has(name) && !name.startsWith("LC_")) continue;
      if (excludes.some((glob) => glob.matches(name))) continue;
      env[name] = value;
    }
  }
  Object.assign(env, spec.env);
  return env;
}

function checkNoNul(field: string, value: string): void {
  if (value.includes("\0")) throw new TetherError(ErrorCode.InvalidArgument, `${field} contains a NUL byte`);
}

/** Shape checks that need no I/O. */
export function checkSpec(spec: ProcessSpec | undefined, limits: SpecLimits = DEFAULT_SPEC_LIMITS): ProcessSpec {
  if (!spec) throw new TetherError(ErrorCode.InvalidArgument, "spec is missing: pass at least spec.argv");
  if (spec.argv.length === 0) {
    throw new TetherError(ErrorCode.InvalidArgument, "spec.argv is empty: pass at least the program to run");
  }
  if (spec.argv[0] === "") throw new TetherError(ErrorCode.InvalidArgument, "spec.argv[0] is empty: name the program");
  let argvBytes = 0;
  spec.argv.forEach((arg, i) => {
    checkNoNul(`spec.argv[${i}]`, arg);
    argvBytes += Buffer.byteLength(arg) + 1;
  });
  if (argvBytes > limits.maxArgvBytes) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `spec.argv is ${argvBytes} bytes; the limit is ${limits.maxArgvBytes}: pass large data through stdin or a file`,
    );
  }
  if (spec.shell === ShellMode.ZSH_FORK && spec.argv.length !== 1) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `spec.argv must hold exactly one command line with shell ZSH_FORK (got ${spec.argv.length} elements)`,
    );
  }
  let envBytes = 0;
  for (const [name, value] of Object.entries(spec.env)) {
    if (name === "" || name.includes("=")) {
      throw new TetherError(ErrorCode.InvalidArgument, `spec.env has an invalid name ${JSON.stringify(name)}`);
    }
    checkNoNul(`spec.env[${name}]`, value);
    checkNoNul(`spec.env name ${JSON.stringify(name)}`, name);
    envBytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
  }
  if (envBytes > limits.maxEnvBytes) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `spec.env is ${envBytes} bytes; the limit is ${limits.maxEnvBytes}: pass large values through a file`,
    );
  }
  const excludes = spec.envPolicy?.exclude ?? [];
  if (excludes.length > MAX_ENV_EXCLUDES || excludes.some((glob) => glob.length > MAX_GLOB_LENGTH)) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `spec.env_policy.exclude takes at most ${MAX_ENV_EXCLUDES} globs of at most ${MAX_GLOB_LENGTH} characters each (MAX_GLOB_LENGTH)`,
    );
  }
  checkSandboxLimits(spec.sandbox, "spec.sandbox");
  checkNoNul("spec.cwd", spec.cwd);
  const cwdBytes = Buffer.byteLength(spec.cwd);
  if (cwdBytes > PATH_MAX) {
    throw new TetherError(ErrorCode.InvalidArgument, `spec.cwd is ${cwdBytes} bytes; the limit is ${PATH_MAX} (PATH_MAX)`);
  }
  if (spec.tty) {
    const { rows, cols } = spec.tty;
    if (rows < 1 || cols < 1 || rows > limits.maxTtyDimension || cols > limits.maxTtyDimension) {
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `spec.tty ${rows}x${cols} is out of range: rows and cols must be 1-${limits.maxTtyDimension}`,
      );
    }
  }
  checkLabels("spec.labels", spec.labels);
  return spec;
}

/**
 * Client-chosen keys the server remembers (write ids, stdin stream ids): each process keeps
 * up to a thousand of them, so their length is what bounds that memory.
 */
const MAX_CLIENT_KEY_LENGTH = 128;

export function checkClientKey(field: string, key: string): void {
  if (key.length > MAX_CLIENT_KEY_LENGTH) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} is ${key.length} characters; the limit is ${MAX_CLIENT_KEY_LENGTH}: use a short unique id (a UUID fits)`);
  }
}

/** At most MAX_LABELS labels, each key ≤ 256 and value ≤ 1024 characters. */
export function checkLabels(field: string, labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} has ${entries.length} labels; the limit is ${MAX_LABELS} (MAX_LABELS)`);
  }
  for (const [key, value] of entries) {
    if (key.length > 256 || value.length > 1024) {
      throw new TetherError(ErrorCode.InvalidArgument, `${field}[${key.slice(0, 40)}] is too long (key ≤ 256, value ≤ 1024)`);
    }
  }
}

// The checks below stat with synchronous calls, on purpose: each is a few microseconds in
// the kernel (dentry cache), while a thread-pool round trip per stat, one after the other
// along PATH, cost every Start a wakeup each, and the most of it after an idle moment (issue
// 18's profile: ~0.6 ms of the exec server's CPU per Start). No cache: a cached lookup could
// hand out a binary that was since replaced, or miss one put earlier in PATH, and checking a
// cache costs the same stats. PATH is bounded (MAX_PATH_ENTRIES), so the loop is too.

/** An absolute, existing working directory. */
export async function resolveCwd(cwd: string, defaultCwd: string): Promise<string> {
  const dir = cwd === "" ? defaultCwd : cwd;
  if (!path.isAbsolute(dir)) {
    throw new TetherError(ErrorCode.InvalidArgument, `spec.cwd ${JSON.stringify(dir)} must be an absolute path`);
  }
  let info: Stats | undefined;
  let cause: unknown;
  try {
    info = statSync(dir, { throwIfNoEntry: false });
  } catch (err) {
    cause = err; // ENOTDIR, EACCES on the way: as good as missing
  }
  if (info === undefined) {
    throw new TetherError(ErrorCode.NotFound, `the working directory ${dir} does not exist: create it or pick another directory`, cause === undefined ? {} : { cause });
  }
  if (!info.isDirectory()) throw new TetherError(ErrorCode.InvalidArgument, `the working directory ${dir} is not a directory`);
  return dir;
}

function isExecutableFile(file: string): "ok" | "missing" | "not-executable" | "directory" {
  try {
    // No throw for the common miss (a PATH entry without the program): an exception costs more than the stat.
    const info = statSync(file, { throwIfNoEntry: false });
    if (info === undefined) return "missing";
    if (info.isDirectory()) return "directory";
    accessSync(file, fsConstants.X_OK);
    return "ok";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EACCES" ? "not-executable" : "missing";
  }
}

const MAX_PATH_ENTRIES = 1024;

/** Looks the program up like execvp: a name with a slash is taken as is (relative to cwd), else PATH is searched. */
export async function resolveExecutable(program: string, cwd: string, env: Record<string, string>): Promise<string> {
  const candidates = program.includes("/")
    ? [path.resolve(cwd, program)]
    : (env.PATH ?? "/usr/local/bin:/usr/bin:/bin")
        .split(":")
        .filter((dir) => dir !== "")
        .map((dir) => path.resolve(cwd, dir, program));
  // Each candidate is a stat: a PATH of a million entries (the env may hold 1 MiB) is refused.
  if (candidates.length > MAX_PATH_ENTRIES) {
    throw new TetherError(ErrorCode.InvalidArgument, `PATH has ${candidates.length} entries; the limit is ${MAX_PATH_ENTRIES}: name the program by its path or shorten PATH`);
  }
  let denied: string | undefined;
  for (const file of candidates) {
    const state = isExecutableFile(file);
    if (state === "ok") return file;
    if (state === "not-executable" || state === "directory") denied ??= file;
  }
  if (denied) {
    throw new TetherError(ErrorCode.PermissionDenied, `${denied} is not an executable file: check its mode (chmod +x)`, { details: { exec_failure: "not_executable" } });
  }
  const where = program.includes("/") ? `at ${candidates[0]}` : `in PATH=${env.PATH ?? "(unset)"}`;
  // exec_failure lets a client exit as a shell would (127 not found, 126 not executable).
  throw new TetherError(ErrorCode.NotFound, `executable ${JSON.stringify(program)} not found ${where}`, { details: { exec_failure: "not_found" } });
}
