// `tether execpolicy check`: which rules match a command, printed as JSON in the shape of
// `codex execpolicy check`, so Codex users can test their rule files the way they already do.
// Reads $TETHER_HOME/rules unless --rules names files; a bad rule file is a usage error.
import { readFile } from "node:fs/promises";
import { tetherHome } from "../../services/common/config/load-config.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { rulesDir } from "../../services/agent-server/policy/append-rule.js";
import { ExecPolicy, type RuleMatch } from "../../services/agent-server/policy/exec-policy.js";
import { usageError } from "./cli-error.js";

export interface ExecpolicyCheckFlags {
  rules?: string[];
  /** A shell command line to split and check instead of an argv. */
  line?: string;
  pretty?: boolean;
}

export async function execpolicyCheck(command: string[], flags: ExecpolicyCheckFlags, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (flags.line !== undefined && command.length > 0) throw usageError("give either --line LINE or COMMAND..., not both");
  if (flags.line === undefined && command.length === 0) throw usageError("name the command to check: tether execpolicy check -- git push (or --line 'git push')");
  const policy = await loadPolicy(flags.rules ?? []);
  let result: Record<string, unknown>;
  if (flags.line !== undefined) {
    const check = policy.checkCommandLine(flags.line);
    result = { matchedRules: check.matchedRules.map(codexMatch), ...(check.decision ? { decision: check.decision } : {}) };
    if (check.unparseable) Object.assign(result, { unparseable: true, reason: check.reason });
  } else {
    const evaluation = policy.check(command);
    result = { matchedRules: (evaluation?.matchedRules ?? []).map(codexMatch), ...(evaluation ? { decision: evaluation.decision } : {}) };
  }
  out.write(`${flags.pretty ? JSON.stringify(result, null, 2) : JSON.stringify(result)}\n`);
  return 0;
}

async function loadPolicy(files: string[]): Promise<ExecPolicy> {
  try {
    if (files.length === 0) return await ExecPolicy.load(rulesDir(tetherHome()));
    const texts = await Promise.all(
      files.map(async (fileName) => {
        try {
          return { fileName, text: await readFile(fileName, "utf8") };
        } catch (err) {
          throw usageError(`cannot read the rule file ${fileName}: ${TetherError.from(err).message}`);
        }
      }),
    );
    return ExecPolicy.parseFiles(texts);
  } catch (err) {
    // A rule file that does not load is the user's to fix (file:line:column: reason): exit 2.
    if (err instanceof TetherError && err.code === ErrorCode.InvalidArgument) throw usageError(err.message);
    throw err;
  }
}

function codexMatch(m: RuleMatch): Record<string, unknown> {
  return {
    prefixRuleMatch: {
      matchedPrefix: m.matchedPrefix,
      decision: m.decision,
      ...(m.justification !== undefined ? { justification: m.justification } : {}),
    },
  };
}
