// The `tether` command line, parsed by commander. Each subcommand's module is imported only
// when it runs, so `tether run` does not pay for loading the exec server (start-up time
// matters); a plain `tether run` does not even load this module (see main.ts, run-argv.ts).
import { Command, CommanderError, Option } from "commander";
import { packageVersion } from "../../services/common/package-info.js";
import { USAGE_FAILURE, reportError, usageError } from "./cli-error.js";
import { addAgentOptions, addConfigOptions } from "./agent-options.js";
import { optionDescription } from "./help-format.js";
import { codexCommandInstead, codexFlagInstead } from "./codex-commands.js";
import type { AgentFlags } from "./agent-session.js";
import type { ExecFlags, ResumeTarget } from "./exec/exec-command.js";
import type { RunFlags } from "./run-command.js";
import type { CpFlags } from "./cp-command.js";

export interface ProgramActions {
  /** What `run` does with its parsed words; tests replace it to see what commander read. */
  run?: (command: string[], flags: RunFlags) => Promise<void>;
  /** What `exec` (and `exec resume`) do with their parsed words; tests replace it likewise. */
  exec?: (prompt: string | undefined, flags: ExecFlags, resume?: ResumeTarget) => Promise<void>;
}

async function runAction(command: string[], flags: RunFlags): Promise<void> {
  process.exitCode = await (await import("./run-command.js")).runCommand(command, flags);
}

/** `tether run` / `tether cp` without --env: config's default_env (the whole config: a profile may set it). */
async function withDefaultEnv<F extends object>(flags: F): Promise<F & { env: string }> {
  const { loadConfig } = await import("../../services/common/config/load-config.js");
  const loaded = loadConfig({ cwd: process.cwd() });
  for (const w of loaded.warnings) process.stderr.write(`tether: warning: ${w}\n`);
  const env = loaded.config.default_env;
  if (env === undefined) {
    throw usageError(`no --env given and no default_env in config: pass --env ENV, or set default_env = "ENV" in ${loaded.home}/config.toml`);
  }
  return { ...flags, env };
}

export function buildProgram(actions: ProgramActions = {}): Command {
  const program = new Command("tether")
    .description("A coding agent whose commands run in local, container and remote environments through tether exec servers. Without a command: the interactive session.")
    .version(packageVersion())
    .showHelpAfterError("(run with --help for usage)")
    // Before any .command(): subcommands copy the help settings of their parent.
    .configureHelp({ optionDescription })
    .addHelpText("after", TOP_HELP)
    .enablePositionalOptions();
  // `tether` alone: the interactive session with the agent; `tether PROMPT` starts it with a
  // first turn, as `codex PROMPT` does.
  addAgentOptions(program)
    .option("--resume <thread-id>", "continue a stored thread (/resume inside lists them)")
    .allowExcessArguments()
    .action(async (opts: AgentFlags & { resume?: string }, cmd: Command) => {
      const [word, ...rest] = cmd.args;
      // `tether help [COMMAND]`, as `codex help` (else "help" would be a one-word prompt).
      if (word === "help") {
        const sub = rest[0] === undefined ? program : program.commands.find((c) => c.name() === rest[0] || c.aliases().includes(rest[0]!));
        if (sub === undefined) throw usageError(`help ${rest[0]}: no such command (tether --help lists them)`);
        sub.outputHelp();
        return;
      }
      const instead = word === undefined ? undefined : codexCommandInstead(word);
      if (instead !== undefined) throw usageError(instead);
      const typo = word === undefined || /\s/.test(word) ? undefined : program.commands.map((c) => c.name()).find((name) => nearlyEqual(word, name));
      if (typo !== undefined) throw usageError(`unknown command '${word}': did you mean ${typo}? (tether --help lists them)`);
      if (rest.length > 0) throw usageError(`unknown command '${word}': tether --help lists them (a prompt is one argument: quote it)`);
      const { tuiCommand } = await import("./tui/tui-command.js");
      await tuiCommand(opts, word !== undefined ? { prompt: word } : {});
    });
  for (const fork of [false, true]) {
    addAgentOptions(
      program
        .command(fork ? "fork" : "resume")
        .description(
          fork
            ? "The interactive session on a copy of a stored thread: its history, a new thread id (the original stays as it was)."
            : "The interactive session on a stored thread: the most recent one here (--last) or the one named.",
        )
        .argument("[thread-id]", "the thread (tether exec prints it as thread.started; /resume inside lists them), unless --last")
        .argument("[prompt]", "the first thing to say in it")
        .option("--last", "the most recent thread of this working directory")
        .option("--all", "with --last: the most recent thread of any directory"),
    ).action(async (first: string | undefined, second: string | undefined, opts: AgentFlags & { last?: boolean; all?: boolean }, cmd: Command) => {
      const flags = mergeFlags(program.opts<AgentFlags>(), opts);
      if (opts.last && second !== undefined) throw usageError(`with --last, give only the prompt: tether ${cmd.name()} --last PROMPT`);
      if (!opts.last && first === undefined && fork) throw usageError(`name the thread or pass --last: tether fork THREAD_ID [PROMPT] (tether exec prints thread.started; /resume inside lists them)`);
      // `tether resume` alone: the session opens listing the recent threads (Codex opens a picker).
      const target = opts.last ? { last: true, all: opts.all === true, prompt: first } : first === undefined ? { pick: true } : { threadId: first, prompt: second };
      const { tuiCommand } = await import("./tui/tui-command.js");
      await tuiCommand(flags, { ...target, fork });
    });
  }

  program
    .command("exec-server")
    .description("Serve processes, files and sessions over gRPC (tether.exec.v1), and to the Codex CLI over WebSocket.")
    .option(
      "--listen <url>",
      `unix:///path.sock (created 0600) or tcp://host:port for gRPC; ws://host:port, wss://host:port or ws+unix:///path for Codex (repeatable: one server, several doors; default: ${defaultListen()})`,
      collect,
      [],
    )
    .option("--token-file <file>", "require this bearer token on every call (required for TCP off loopback)")
    .option("--tls-cert <file>", "TLS certificate (PEM); required for TCP off loopback")
    .option("--tls-key <file>", "TLS private key (PEM)")
    .option("--tls-client-ca <file>", "require client certificates signed by this CA (mTLS)")
    .option("--cwd <dir>", "default working directory for processes", process.cwd())
    .option("--detached-ttl <ms>", "how long a session outlives its last connection", "300000")
    .option("--decision-timeout <ms>", "how long an escalation or network request waits for the session's controller before it is denied (a session may set its own)", "600000")
    .option("--max-processes <n>", "most processes running at once", "2048")
    .option("--max-pids <n>", "most tasks one process tree may have (cgroup pids.max; 0 = no limit)", "4096")
    .option("--retain-bytes <n>", "output bytes kept per process unless it asks (resumable history)", String(4 << 20))
    .option("--retain-bytes-max <n>", "most output bytes a process may ask to keep", String(64 << 20))
    .option("--retain-bytes-total <n>", "output bytes kept by all processes together", String(512 << 20))
    .option("--sandbox <mode>", "default sandbox for processes that ask for none: full-access | read-only | workspace-write", "full-access")
    .option("--log-level <level>", "JSON logs on stderr from this level: trace | debug | info | warn | error | fatal | silent (default: $TETHER_LOG or info)")
    .action(async (opts) =>
      (await import("./exec-server-command.js")).execServerCommand({ ...opts, listen: opts.listen.length > 0 ? opts.listen : [defaultListen()] }),
    );

  addConfigOptions(
    program
      .command("agent-server")
      .description("Serve the agent (tether.agent.v1) over gRPC: threads, turns, events and approvals, with rollouts under $TETHER_HOME.")
      .option("--listen <url>", `unix:///path.sock (created 0600) or tcp://host:port (default: ${defaultAgentListen()})`)
      .option("--token-file <file>", "require this bearer token on every call (required for TCP off loopback)")
      .option("--tls-cert <file>", "TLS certificate (PEM); required for TCP off loopback")
      .option("--tls-key <file>", "TLS private key (PEM)")
      .option("--tls-client-ca <file>", "require client certificates signed by this CA (mTLS)")
      .option("--log-level <level>", "JSON logs on stderr from this level: trace | debug | info | warn | error | fatal | silent (default: $TETHER_LOG or info)")
  )
    .action(async (opts) => (await import("./agent-server-command.js")).agentServerCommand({ ...opts, listen: opts.listen ?? defaultAgentListen() }));

  program
    .command("run")
    .description("Run a command in an environment, like ssh: stdio is piped byte-exact and the exit code is passed back.")
    .option("--env <env>", "where to run: local | unix:///path | grpc://host:port | grpcs://host:port | docker[:IMAGE] (default: default_env in config.toml)")
    .option("--token-file <file>", "bearer token for the exec server")
    .option("--ca-file <file>", "trust this CA for grpcs:// (a private CA)")
    .option("-t, --tty", "allocate a PTY that follows this terminal's size; Ctrl-C is passed as a keystroke")
    .option("--cwd <dir>", "working directory on the environment")
    .option("--env-var <K=V>", "set an environment variable (repeatable)", collect, [])
    .option("--timeout <ms>", "kill the command after this much running time")
    .option("--sandbox <mode>", "read-only | workspace-write | full-access")
    .option("--writable-root <dir>", "with workspace-write: a directory the command may write (repeatable)", collect, [])
    .option("--deny <path>", "hide a path from the command (repeatable)", collect, [])
    .option("--network <mode>", "off | on")
    .option("--shell <mode>", "direct | zsh-fork (the words after -- are one shell command line)", "direct")
    .option("--decide <answer>", "with zsh-fork: answer every escalation request with run | escalate | deny", "deny")
    .option("-v, --verbose", "log how long the environment took to come up")
    .argument("<command...>", "the command and its arguments (after --)")
    .passThroughOptions()
    .action(async (command: string[], opts: Omit<RunFlags, "env"> & { env?: string }) => {
      const run = actions.run ?? runAction;
      // With --env, run is called in the same tick (tests parse synchronously to compare).
      return opts.env !== undefined ? run(command, { ...opts, env: opts.env }) : run(command, await withDefaultEnv(opts));
    });

  program
    .command("cp")
    .description("Copy files or directories between this machine and an environment; the remote path starts with a colon (:/tmp/x).")
    .option("--env <env>", "the environment: local | unix:///path | grpc://host:port | grpcs://host:port | docker[:IMAGE] (default: default_env in config.toml)")
    .option("--token-file <file>", "bearer token for the exec server")
    .option("--ca-file <file>", "trust this CA for grpcs:// (a private CA)")
    .argument("<src>", "what to copy: a local path, or :/path on the environment")
    .argument("<dst>", "where to: :/path on the environment, or a local path (an existing directory receives the source inside it)")
    .action(async (src: string, dst: string, opts: Omit<CpFlags, "env"> & { env?: string }) => {
      const flags = opts.env !== undefined ? { ...opts, env: opts.env } : await withDefaultEnv(opts);
      process.exitCode = await (await import("./cp-command.js")).cpCommand(src, dst, flags);
    });

  addExecCommands(program, actions);

  const features = program
    .command("features")
    .description("Feature flags: their stage (experimental, beta, stable, deprecated, removed) and whether they are on.")
    .command("list")
    .description("List every feature with its stage and state (config [features], --enable and --disable applied).");
  addConfigOptions(features)
    .action(async (opts) => {
      const { loadCliConfig } = await import("./cli-config.js");
      const { formatFeatureTable } = await import("../../services/agent-server/features/feature-registry.js");
      process.stdout.write(formatFeatureTable((await loadCliConfig(opts, process.cwd())).features));
    });

  program
    .command("execpolicy")
    .description("Execpolicy rules ($TETHER_HOME/rules/*.rules, the prefix_rule format Codex reads).")
    .command("check")
    .description("Print the rules matching a command as JSON (the shape of `codex execpolicy check`).")
    .option("-r, --rules <file>", "a rule file to use instead of $TETHER_HOME/rules (repeatable)", collect, [])
    .option("--line <command-line>", "check a shell command line, split into its simple commands, instead of COMMAND")
    .option("--pretty", "indent the JSON")
    .argument("[command...]", "the command's words (after --)")
    .action(async (command: string[], opts: { rules: string[]; line?: string; pretty?: boolean }) => {
      process.exitCode = await (await import("./execpolicy-command.js")).execpolicyCheck(command, opts);
    });

  program
    .command("completion")
    .description("Print a shell completion script: eval \"$(tether completion bash)\", or save it where your shell looks.")
    .argument("<shell>", "bash | zsh | fish")
    .action(async (shell: string) => {
      const { SHELLS, completionScript } = await import("./completion-script.js");
      if (!(SHELLS as readonly string[]).includes(shell)) throw usageError(`completion ${JSON.stringify(shell)}: use bash, zsh or fish`);
      process.stdout.write(completionScript(program, shell as (typeof SHELLS)[number]));
    });

  return program;
}

const TOP_HELP = `
Examples:
  tether                                       the interactive session in this directory
  tether "explain this codebase"               the same, starting with that prompt
  tether resume --last                         continue this directory's most recent thread
  tether exec "fix the failing test"           one turn for CI; the answer on stdout
  tether exec resume --last "now the changelog"
  tether run --env unix:///run/tether.sock -- make -j8
  tether exec-server --listen unix:///run/tether.sock

Settings: $TETHER_HOME/config.toml (default ~/.tether). The model server: OPENAI_API_KEY and
OPENAI_BASE_URL. Each command has --help.`;

const EXEC_HELP = `
Examples:
  tether exec "fix the failing test"                  progress on stderr, the answer on stdout
  git diff | tether exec --json "review this diff"    piped stdin is appended to the prompt
  tether exec --output-schema verdict.schema.json -o verdict.json "review this change"
  tether exec resume --last "now update the changelog"

Exit status:
  0    the turn completed (and its answer matched --output-schema, if given)
  1    the turn failed or was interrupted
  2    usage error: a bad flag, prompt, config file or --output-schema
  141  stdout's reader went away (| head -1): the turn was interrupted
  255  tether could not run the turn: the environment or agent server is unreachable

With --json, stdout carries only JSON Lines, the events of \`codex exec --json\`:
thread.started, turn.started, item.started/updated/completed (agent_message, reasoning,
command_execution, file_change, todo_list, error), turn.completed {usage}, turn.failed
{error}, error. Schema: docs/exec-json-events.schema.json.`;

function addExecCommands(program: Command, actions: ProgramActions): void {
  const execOptions = (cmd: Command) =>
    addAgentOptions(cmd)
      .option("--json", "print JSON Lines events on stdout (and nothing else there); progress otherwise goes to stderr")
      .option("-o, --output-last-message <file>", "write the agent's last message to FILE when the turn completes")
      .option("--output-schema <file>", "a JSON schema the final answer must match (else the turn fails)")
      // Codex CI scripts pass it (codex exec refuses to run outside a Git repository); tether never asks.
      .addOption(new Option("--skip-git-repo-check", "accepted for Codex compatibility: tether does not require a Git repository").hideHelp())
      // Codex's --color: tether's progress has no colours, so every choice prints the same.
      .option("--ephemeral", "keep no rollout of this run (it cannot be resumed)")
      .addOption(new Option("--color <when>", "accepted for Codex compatibility: tether prints no colours").choices(["always", "never", "auto"]).hideHelp())
      .addHelpText("after", EXEC_HELP);
  const run =
    actions.exec ??
    (async (prompt: string | undefined, opts: ExecFlags, resume?: ResumeTarget) => {
      process.exitCode = await (await import("./exec/exec-command.js")).execCommand(prompt, opts, resume);
    });
  const exec = execOptions(
    program
      .command("exec")
      .alias("e")
      .description("Run one agent turn without a person (CI): approvals are declined, progress on stderr, the exit status says how it ended.")
      .argument("[prompt]", "what to do; - (or no argument with a pipe) reads it from stdin; with a prompt, piped stdin is appended in a <stdin> block"),
  ).action(async (prompt: string | undefined, opts: ExecFlags) => run(prompt, mergeFlags(rootFlags(program), opts)));
  execOptions(
    exec
      .command("resume")
      .description("Run a further turn on a stored thread: the most recent one here (--last) or the one named.")
      .argument("[thread-id]", "the thread (from thread.started), unless --last")
      .argument("[prompt]", "what to do; - reads it from stdin")
      .option("--last", "the most recent thread of this working directory")
      .option("--all", "with --last: the most recent thread of any directory"),
  ).action(async (first: string | undefined, second: string | undefined, opts: ExecFlags & { last?: boolean; all?: boolean }, cmd: Command) => {
    const merged = mergeFlags(mergeFlags(rootFlags(program), exec.opts<ExecFlags>()), opts);
    if ((merged as AgentFlags).ephemeral) throw usageError("--ephemeral keeps no thread, so it cannot resume one: drop it (the resumed turn is recorded in the thread)");
    if (opts.last) {
      if (second !== undefined) throw usageError("with --last, give only the prompt: tether exec resume --last PROMPT");
      return run(first, merged, { last: true, ...(opts.all ? { all: true } : {}) });
    }
    if (first === undefined) throw usageError(`name the thread or pass --last: ${cmd.name()} THREAD_ID [PROMPT]`);
    return run(second, merged, { threadId: first });
  });
}

/**
 * The agent flags given before the command (`tether -m o3 exec …`, as Codex takes them): without
 * this they were parsed and silently dropped. The interactive session's --resume is not exec's.
 */
function rootFlags(program: Command): ExecFlags {
  const { resume: _resume, ...flags } = program.opts<ExecFlags & { resume?: string }>();
  return flags;
}

/** Options given before `resume` (on exec) and after it: lists add up, the later value wins. */
function mergeFlags<T extends object>(before: T, after: T): T {
  const out: Record<string, unknown> = { ...(before as Record<string, unknown>) };
  for (const [key, value] of Object.entries(after) as [string, unknown][]) {
    const prev = out[key];
    out[key] = Array.isArray(prev) && Array.isArray(value) ? [...prev, ...value] : value ?? prev;
  }
  return out as T;
}

/** A command name mistyped (one or two edits, e.g. `exce`), not a one-word prompt. */
function nearlyEqual(word: string, name: string): boolean {
  if (word === name || Math.abs(word.length - name.length) > 2 || name.length < 3) return false;
  let prev = Array.from({ length: name.length + 1 }, (_, j) => j);
  for (let i = 1; i <= word.length; i++) {
    const row = [i];
    for (let j = 1; j <= name.length; j++) {
      const swap = i > 1 && j > 1 && word[i - 1] === name[j - 2] && word[i - 2] === name[j - 1] ? prev[j - 2]! : Infinity;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (word[i - 1] === name[j - 1] ? 0 : 1), swap));
    }
    prev = row;
  }
  return prev[name.length]! <= 2;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function defaultAgentListen(): string {
  const dir = process.env.XDG_RUNTIME_DIR ?? "/tmp";
  return `unix://${dir}/tether-agent-${process.getuid?.() ?? 0}.sock`;
}

function defaultListen(): string {
  const dir = process.env.XDG_RUNTIME_DIR ?? "/tmp";
  return `unix://${dir}/tether-${process.getuid?.() ?? 0}.sock`;
}

/** Every command of the tree, so each one's usage errors come back to runProgram. */
function exitOverrideAll(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverrideAll(sub);
}

/** Parses `argv` (node, script, words…) with commander and runs the command. */
export async function runProgram(argv: string[]): Promise<void> {
  const program = buildProgram();
  exitOverrideAll(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander named the flag; a Codex user also learns what tether does instead.
      const flag = err.code === "commander.unknownOption" ? /'([^']+)'/.exec(err.message)?.[1] : undefined;
      const instead = flag === undefined ? undefined : codexFlagInstead(flag);
      if (instead !== undefined) process.stderr.write(`tether: ${instead}\n`);
      // Help and version exit 0; every other commander error is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : USAGE_FAILURE;
      return;
    }
    process.exitCode = reportError(err);
  }
}
