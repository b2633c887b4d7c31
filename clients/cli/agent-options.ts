// The flags of the agent commands (exec, the interactive session, features), defined without
// importing what they configure: program.ts loads this for every command, `tether
// exec-server` included, which must not pay for zod or the TOML parser.
import { type Command, Option } from "commander";
import { DEFAULT_MODEL, DEFAULT_SANDBOX } from "./agent-defaults.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addConfigOptions(cmd: Command): Command {
  return cmd
    .option("-c, --config <key=value>", 'override a config key (dotted for tables, TOML value syntax: -c sandbox_mode="read-only"); repeatable', collect, [])
    .option("-p, --profile <name>", "use [profiles.NAME] from config.toml")
    .option("--enable <feature>", "turn a feature on (see `tether features list`); repeatable", collect, [])
    .option("--disable <feature>", "turn a feature off; repeatable", collect, [])
    .option("--strict-config", "stop at a config key tether does not use (else a warning)");
}

export function addAgentOptions(cmd: Command): Command {
  return addConfigOptions(
    cmd
      .option("-m, --model <name>", `the model (default: model in config.toml, else ${DEFAULT_MODEL})`)
      .option("--env <env>", "where commands run: local | unix:///path | grpc://host:port | grpcs://host:port | docker[:IMAGE] (default: default_env, else local)")
      .option("--token-file <file>", "bearer token for the environment's exec server")
      .option("--ca-file <file>", "trust this CA for a grpcs:// environment")
      .option("-s, --sandbox <mode>", `read-only | workspace-write | full-access (Codex's danger-full-access too; default: sandbox_mode, else ${DEFAULT_SANDBOX})`)
      .option("-a, --ask-for-approval <policy>", "when to ask before a command: untrusted | on-failure | on-request | never (default: approval_policy, else on-request)")
      .option("-C, --cwd <dir>", "the working directory of the thread (default: this directory)")
      .option("--add-dir <dir>", "another directory workspace-write may write (besides the cwd); repeatable", collect, [])
      .option(
        "--dangerously-bypass-approvals-and-sandbox",
        "run every command without a sandbox and without asking (-s full-access with approval_policy never): only inside an environment that is itself isolated",
      )
      // Codex's spelling, so a Codex user's command line works unchanged (not listed twice in --help).
      .addOption(new Option("--cd <dir>", "the same as --cwd").hideHelp())
      .option("--agent <url>", "use an agent server (unix:///path, grpc://host:port, grpcs://…) instead of the agent in this process")
      .option("--agent-token-file <file>", "bearer token for --agent")
      .option("--agent-ca-file <file>", "trust this CA for a grpcs:// --agent (a private CA)"),
  );
}
