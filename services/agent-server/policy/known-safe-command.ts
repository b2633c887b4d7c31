// Heuristics for commands no rule covers, after Codex's: a small list of read-only
// commands (with their unsafe flags excluded) that `untrusted` runs without asking, and a
// few destructive shapes (rm -f, git reset, …) that always ask.

const ALWAYS_SAFE = new Set([
  "cat", "cd", "cut", "echo", "expr", "false", "grep", "head", "id", "ls", "nl", "paste", "pwd", "rev", "seq",
  "stat", "tail", "tr", "true", "uname", "uniq", "wc", "which", "whoami", "numfmt", "tac", "basename", "dirname",
  "realpath", "readlink", "diff", "cmp",
]);
const GIT_READ_ONLY = new Set(["status", "log", "diff", "show", "branch"]);
/** git global options that take a separate value. */
const GIT_OPTIONS_WITH_VALUE = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"]);
const FIND_UNSAFE = new Set(["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"]);
const RG_UNSAFE_FLAGS = new Set(["--search-zip", "-z"]);
const RG_UNSAFE_WITH_VALUE = ["--pre", "--hostname-bin"];
const GIT_UNSAFE_FLAGS = new Set(["--output", "--ext-diff", "--textconv", "--exec", "--paginate"]);
const GIT_BRANCH_LISTING = new Set(["--list", "-l", "--show-current", "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose"]);

/**
 * Whether argv only reads. `globs` are indexes of words the shell may still expand: for
 * commands whose safety depends on their flags, a word that could expand to a flag makes
 * the command unknown.
 */
export function isKnownSafeCommand(argv: readonly string[], globs: readonly number[] = []): boolean {
  const program = argv[0];
  if (program === undefined) return false;
  const name = program.slice(program.lastIndexOf("/") + 1);
  if (ALWAYS_SAFE.has(name)) return true;
  const mayBeFlag = globs.some((i) => i > 0 && /^[*?[-]/.test(argv[i]!));
  if (mayBeFlag) return false;
  const args = argv.slice(1);
  switch (name) {
    case "base64":
      return !args.some((a) => a === "-o" || a === "--output" || a.startsWith("--output=") || (a.startsWith("-o") && a !== "-o"));
    case "find":
      return !args.some((a) => FIND_UNSAFE.has(a));
    case "rg":
      return !args.some((a) => RG_UNSAFE_FLAGS.has(a) || RG_UNSAFE_WITH_VALUE.some((o) => a === o || a.startsWith(`${o}=`)));
    case "git":
      return isReadOnlyGit(args);
    case "sed":
      // Only `sed -n Np` / `sed -n M,Np [file]`: printing lines.
      return argv.length <= 4 && args[0] === "-n" && /^(\d+,)?\d+p$/.test(args[1] ?? "");
    default:
      return false;
  }
}

function isReadOnlyGit(args: string[]): boolean {
  // -c/--config-env can set core.pager or aliases that run arbitrary programs.
  if (args.some((a) => a === "-c" || a === "--config-env" || (a.startsWith("-c") && a.length > 2) || a.startsWith("--config-env="))) return false;
  const sub = gitSubcommand(args);
  if (sub === undefined || !GIT_READ_ONLY.has(args[sub]!)) return false;
  const rest = args.slice(sub + 1);
  if (rest.some((a) => GIT_UNSAFE_FLAGS.has(a) || a.startsWith("--output=") || a.startsWith("--exec="))) return false;
  if (args[sub] !== "branch") return true;
  // `git branch NAME` creates a branch: only listing flags count as read-only.
  return rest.every((a) => GIT_BRANCH_LISTING.has(a) || a.startsWith("--format="));
}

/** Index in `args` of git's subcommand: the first word that is not a global option or its value. */
export function gitSubcommand(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (GIT_OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    return i;
  }
  return undefined;
}

/** Destructive shapes that ask even where the sandbox would otherwise be trusted. */
export function commandMightBeDangerous(argv: readonly string[]): boolean {
  for (let start = 0; start < argv.length && start < 8; start++) {
    const program = argv[start]!;
    const name = program.slice(program.lastIndexOf("/") + 1);
    const args = argv.slice(start + 1);
    if (name === "sudo") continue; // judge what sudo runs
    if (name === "rm") return args.some((a) => /^-[a-zA-Z]*f[a-zA-Z]*$/.test(a) || a === "--force");
    if (name === "git") {
      const sub = gitSubcommand(args);
      const word = sub === undefined ? undefined : args[sub];
      const rest = sub === undefined ? [] : args.slice(sub + 1);
      if (word === "reset" || word === "rm") return true;
      if (word === "clean") return rest.some((a) => /^-[a-zA-Z]*f/.test(a) || a === "--force");
      if (word === "push") return rest.some((a) => a === "-f" || a === "--force" || a.startsWith("--force-with-lease") || a.startsWith("+"));
      return args[0] === "--force";
    }
    return false;
  }
  return false;
}
