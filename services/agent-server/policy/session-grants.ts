// What "accept for this session" remembers in one thread: exact commands (or argv
// prefixes), programs allowed to escalate out of the zsh-fork sandbox, network hosts and
// file roots. assessAction consults it after forbidden rules, so a grant never overrides
// a rule that forbids. Bounded: the oldest entries go first.
import path from "node:path";
import type { ProposedAction } from "./approval-types.js";
import { splitArgv, splitCommandLine } from "./split-command-line.js";

export const MAX_GRANTS_PER_KIND = 1000;

export class SessionGrants {
  /** Exact argv of simple commands, JSON-encoded. */
  readonly #commands = new Set<string>();
  /** Whole command lines that could not be split (granted as written). */
  readonly #lines = new Set<string>();
  readonly #prefixes: string[][] = [];
  readonly #escalatedPrograms = new Set<string>();
  readonly #hosts = new Set<string>();
  readonly #fileRoots = new Set<string>();
  #allNetwork = false;

  grantCommand(argv: readonly string[]): void {
    if (argv.length > 0) add(this.#commands, JSON.stringify(argv));
  }

  /** Every command whose argv starts with `prefix` (an explicit, wider grant). */
  grantCommandPrefix(prefix: readonly string[]): void {
    if (prefix.length === 0) return;
    this.#prefixes.push([...prefix]);
    if (this.#prefixes.length > MAX_GRANTS_PER_KIND) this.#prefixes.shift();
  }

  grantCommandLine(line: string): void {
    add(this.#lines, line);
  }

  /** zsh-fork execs of this program (path as exec'd) run outside the sandbox for the session. */
  grantEscalatedProgram(file: string): void {
    add(this.#escalatedPrograms, file);
  }

  grantHost(host: string): void {
    add(this.#hosts, normaliseHost(host));
  }

  grantAllNetwork(): void {
    this.#allNetwork = true;
  }

  grantFileRoot(root: string): void {
    add(this.#fileRoots, path.resolve(root));
  }

  /** Records what accepting `action` for the session covers. */
  grantFor(action: ProposedAction): void {
    switch (action.kind) {
      case "command":
      case "retry_unsandboxed": {
        const split = action.commandLine !== "" ? splitCommandLine(action.commandLine) : splitArgv(action.argv);
        if (split.ok) split.commands.forEach((argv) => this.grantCommand(argv));
        else this.grantCommandLine(action.commandLine !== "" ? action.commandLine : JSON.stringify(action.argv));
        return;
      }
      case "escalation":
        this.grantEscalatedProgram(action.file);
        return;
      case "network":
        this.grantHost(action.host);
        return;
      case "file_change":
        for (const p of action.paths) this.grantFileRoot(path.dirname(path.resolve(p)));
        return;
      case "permissions":
        for (const root of action.writableRoots ?? []) this.grantFileRoot(root);
        if (action.network === true) this.grantAllNetwork();
        return;
    }
  }

  /** Whether every simple command is granted (exactly or by prefix). */
  coversCommands(commands: readonly (readonly string[])[]): boolean {
    return commands.length > 0 && commands.every((argv) => this.#commands.has(JSON.stringify(argv)) || this.#prefixes.some((p) => startsWith(argv, p)));
  }

  coversCommandLine(line: string): boolean {
    return this.#lines.has(line);
  }

  coversEscalation(file: string): boolean {
    return this.#escalatedPrograms.has(file);
  }

  coversHost(host: string): boolean {
    return this.#allNetwork || this.#hosts.has(normaliseHost(host));
  }

  get coversAllNetwork(): boolean {
    return this.#allNetwork;
  }

  /** Whether every path lies inside a granted root (`..` resolved; symlinks are the file layer's to check). */
  coversPaths(paths: readonly string[]): boolean {
    if (paths.length === 0) return false;
    const roots = [...this.#fileRoots];
    return paths.every((p) => {
      const abs = path.resolve(p);
      return roots.some((r) => abs === r || abs.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
    });
  }
}

function add(set: Set<string>, value: string): void {
  set.delete(value);
  set.add(value);
  if (set.size > MAX_GRANTS_PER_KIND) set.delete(set.values().next().value!);
}

function startsWith(argv: readonly string[], prefix: readonly string[]): boolean {
  return argv.length >= prefix.length && prefix.every((t, i) => argv[i] === t);
}

function normaliseHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, "");
}
