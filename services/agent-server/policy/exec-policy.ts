// Execpolicy: the user's prefix and network rules (Codex's `*.rules` files under
// $TETHER_HOME/rules/), loaded once and immutable; reloading builds a new ExecPolicy.
// Strictest wins across matching rules: forbidden > prompt > allow.
import { readdir, readFile, stat } from "../../common/fs-async.js";
import path from "node:path";
import { GlobMatcher } from "../../common/glob-matcher.js";
import { errnoCode, ErrorCode, TetherError } from "../../common/tether-error.js";
import { globMatch, MAX_GLOB_LENGTH } from "./glob-match.js";
import {
  defineRules,
  type NetworkDecision,
  type NetworkRule,
  type PrefixRule,
  type RuleDecision,
  type RuleDefinitions,
} from "./rule-definitions.js";
import { proxyHostListsFor, type ProxyHostLists } from "./proxy-host-lists.js";
import { MAX_RULE_FILE_BYTES, parseRuleFile, ruleError } from "./rules-parser.js";
import { splitArgv, splitCommandLine, type SplitResult } from "./split-command-line.js";

export type { NetworkDecision, NetworkRule, PrefixRule, RuleDecision } from "./rule-definitions.js";

export interface RuleMatch {
  /** The argv tokens the rule's pattern covered. */
  matchedPrefix: string[];
  decision: RuleDecision;
  justification?: string;
  rule: PrefixRule;
}

export interface PolicyEvaluation {
  decision: RuleDecision;
  matchedRules: RuleMatch[];
}

export interface CommandEvaluation {
  argv: string[];
  /** Indexes of words the shell may still expand (unquoted globs). */
  globs: number[];
  /** Undefined when no rule matched this command. */
  evaluation?: PolicyEvaluation;
}

export interface CommandLineCheck {
  /** Strictest decision over every simple command; "prompt" when unparseable; undefined when no rule matched. */
  decision: RuleDecision | undefined;
  matchedRules: RuleMatch[];
  unparseable: boolean;
  /** Why the line could not be parsed. */
  reason?: string;
  commands: CommandEvaluation[];
}

export const MAX_RULE_FILES = 1000;
/** Programs that run another program given later in their argv (after options we do not parse). */
const RUNNERS = new Set(["sudo", "doas", "xargs", "timeout", "nice", "ionice", "stdbuf", "setsid", "chrt", "taskset", "flock", "watch", "strace", "ltrace", "find", "nohup", "env", "command", "exec"]);
/** How far into a runner's argv the program it runs is looked for. */
const MAX_RUNNER_SCAN = 16;
const SEVERITY: Record<RuleDecision, number> = { allow: 0, prompt: 1, forbidden: 2 };
const NETWORK_SEVERITY: Record<NetworkDecision, number> = { allow: 0, prompt: 1, deny: 2 };

export class ExecPolicy {
  readonly #byProgram = new Map<string, PrefixRule[]>();
  readonly #defs: RuleDefinitions;
  /** Network host globs, compiled once by the matcher the exec layer's proxy uses. */
  readonly #hostMatchers: GlobMatcher[];
  /** The texts this policy was parsed from, so a rule can be added in memory (withRuleText). */
  #sources: readonly { text: string; fileName: string }[] = [];

  private constructor(defs: RuleDefinitions) {
    this.#defs = defs;
    this.#hostMatchers = defs.networkRules.map((r) => GlobMatcher.compile(r.host, "name", "host"));
    for (const rule of defs.prefixRules) {
      const first = rule.pattern[0]!;
      for (const program of typeof first === "string" ? [first] : first) {
        const list = this.#byProgram.get(program) ?? [];
        list.push(rule);
        this.#byProgram.set(program, list);
      }
    }
  }

  static empty(): ExecPolicy {
    return new ExecPolicy(emptyDefinitions());
  }

  /** Parses one rule file's text; `fileName` names it in errors. */
  static parse(text: string, fileName: string): ExecPolicy {
    return ExecPolicy.parseFiles([{ text, fileName }]);
  }

  /** Parses several files as one policy, in the order given (later files add rules). */
  static parseFiles(files: { text: string; fileName: string }[]): ExecPolicy {
    const defs = emptyDefinitions();
    for (const { text, fileName } of files) defineRules(parseRuleFile(text, fileName), defs);
    const policy = new ExecPolicy(defs);
    policy.#verifyExamples();
    policy.#sources = [...files];
    return policy;
  }

  /** Loads every `*.rules` file of `dir` in name order; a missing directory is an empty policy. */
  static async load(dir: string, options: { signal?: AbortSignal } = {}): Promise<ExecPolicy> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith(".rules")).sort();
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return ExecPolicy.empty();
      throw TetherError.from(err, `reading the rules directory ${dir}`);
    }
    if (names.length > MAX_RULE_FILES) {
      throw new TetherError(ErrorCode.InvalidArgument, `${dir} holds ${names.length} rule files; at most ${MAX_RULE_FILES} are read`);
    }
    const files: { text: string; fileName: string }[] = [];
    for (const name of names) {
      options.signal?.throwIfAborted();
      const file = path.join(dir, name);
      try {
        const info = await stat(file);
        if (!info.isFile()) continue;
        if (info.size > MAX_RULE_FILE_BYTES) {
          throw ruleError({ file, line: 1, column: 1 }, `rule file is larger than ${MAX_RULE_FILE_BYTES} bytes`);
        }
        files.push({ text: await readFile(file, { encoding: "utf8", signal: options.signal }), fileName: file });
      } catch (err) {
        if (err instanceof TetherError || options.signal?.aborted) throw err;
        throw TetherError.from(err, `reading the rule file ${file}`);
      }
    }
    return ExecPolicy.parseFiles(files);
  }

  /** This policy plus the rules in `text` (a rule just appended, when the file cannot be re-read). */
  withRuleText(text: string, fileName: string): ExecPolicy {
    return ExecPolicy.parseFiles([...this.#sources, { text, fileName }]);
  }

  get prefixRules(): readonly PrefixRule[] {
    return this.#defs.prefixRules;
  }

  /**
   * The rules matching one argv, or undefined when none does. A program given as a path also
   * meets the rules of its base name (allow rules only for absolute paths, and only listed ones
   * when the name has a host_executable entry). `globs` lists words the shell
   * may still expand: such a word never satisfies an allow rule and satisfies a prompt or
   * forbidden rule whenever it could expand to the rule's token.
   */
  check(argv: readonly string[], globs: readonly number[] = []): PolicyEvaluation | undefined {
    return this.#check(argv, globs, true);
  }

  #check(argv: readonly string[], globs: readonly number[], scanRunners: boolean): PolicyEvaluation | undefined {
    const program = argv[0];
    if (program === undefined) return undefined;
    const matchedRules: RuleMatch[] = [];
    const base = program.includes("/") ? program.slice(program.lastIndexOf("/") + 1) : undefined;
    // A path reaches the bare name's prompt and forbidden rules. Its allow rules only as Codex
    // resolves host executables: an absolute path, listed by host_executable if the name has one.
    const viaPath = base !== undefined && base !== program ? this.#byProgram.get(base) ?? [] : [];
    const hostPaths = base === undefined ? undefined : this.#defs.hostExecutables.get(base);
    const listed = program.startsWith("/") && (hostPaths === undefined || hostPaths.includes(program));
    for (const [rules, exact] of [[this.#byProgram.get(program) ?? [], true], [viaPath, false]] as const) {
      for (const rule of rules) {
        if (!exact && rule.decision === "allow" && !listed) continue;
        // Like Codex, a match through a path reports the base name in its prefix.
        const m = matchPrefix(rule, exact ? argv : [base!, ...argv.slice(1)], globs);
        if (m !== undefined) matchedRules.push(m);
      }
    }
    // Every suffix is scanned once here, so the scans themselves need not look into runners.
    const runner = scanRunners && RUNNERS.has(base ?? program);
    // A runner's own options are not parsed: every later word may be the program it runs, so
    // prompt and forbidden rules are tried on each suffix (allow rules never are).
    for (let i = 1; runner && i < Math.min(argv.length, MAX_RUNNER_SCAN); i++) {
      const inner = this.#check(argv.slice(i), globs.filter((g) => g >= i).map((g) => g - i), false);
      for (const m of inner?.matchedRules ?? []) if (m.decision !== "allow") matchedRules.push(m);
    }
    if (matchedRules.length === 0) return undefined;
    return { decision: strictest(matchedRules.map((m) => m.decision)), matchedRules };
  }

  /** Splits a shell command line and checks every simple command; an unparseable line is "prompt". */
  checkCommandLine(line: string): CommandLineCheck {
    return this.checkSplit(splitCommandLine(line));
  }

  /** Checks an exec argv (a shell wrapper's `-c` script is split first). */
  checkArgv(argv: readonly string[]): CommandLineCheck {
    return this.checkSplit(splitArgv([...argv]));
  }

  checkSplit(split: SplitResult): CommandLineCheck {
    if (!split.ok) return { decision: "prompt", matchedRules: [], unparseable: true, reason: split.reason, commands: [] };
    const commands = split.commands.map((argv, i): CommandEvaluation => {
      const globs = split.globs[i] ?? [];
      const evaluation = this.check(argv, globs);
      return evaluation === undefined ? { argv, globs } : { argv, globs, evaluation };
    });
    const matchedRules = commands.flatMap((c) => c.evaluation?.matchedRules ?? []);
    const decision = matchedRules.length === 0 ? undefined : strictest(matchedRules.map((m) => m.decision));
    return { decision, matchedRules, unparseable: false, commands };
  }

  /** The strictest network rule decision for `host` (deny > prompt > allow), or undefined. */
  networkDecision(host: string): NetworkDecision | undefined {
    const matched = this.matchingNetworkRules(host);
    if (matched.length === 0) return undefined;
    return matched.reduce((a, r) => (NETWORK_SEVERITY[r.decision] > NETWORK_SEVERITY[a] ? r.decision : a), "allow" as NetworkDecision);
  }

  matchingNetworkRules(host: string): NetworkRule[] {
    const name = host.trim().toLowerCase().replace(/\.$/, "");
    return this.#defs.networkRules.filter((_r, i) => this.#hostMatchers[i]!.matches(name));
  }

  networkRules(): readonly NetworkRule[] {
    return this.#defs.networkRules;
  }

  /**
   * Allow and deny host lists for the exec layer's proxy at Start: only what the proxy decides
   * exactly as these rules would (prompt rules, and hosts they may cover, are the agent's to ask).
   */
  proxyHostLists(): ProxyHostLists {
    return proxyHostListsFor(this.#defs.networkRules, (host) => this.networkDecision(host));
  }

  #verifyExamples(): void {
    for (const { rule, match, notMatch } of this.#defs.examples) {
      if (match.length === 0 && notMatch.length === 0) continue;
      const only = new ExecPolicy({ ...emptyDefinitions(), prefixRules: [rule], hostExecutables: this.#defs.hostExecutables });
      for (const example of match) {
        if (only.check(example) === undefined) {
          throw ruleError(rule.source, `match example ${JSON.stringify(example.join(" "))} does not match the pattern ${JSON.stringify(rule.pattern)}`);
        }
      }
      for (const example of notMatch) {
        if (only.check(example) !== undefined) {
          throw ruleError(rule.source, `not_match example ${JSON.stringify(example.join(" "))} matches the pattern ${JSON.stringify(rule.pattern)}`);
        }
      }
    }
  }
}

function matchPrefix(rule: PrefixRule, argv: readonly string[], globs: readonly number[]): RuleMatch | undefined {
  if (argv.length < rule.pattern.length) return undefined;
  for (let i = 1; i < rule.pattern.length; i++) {
    const token = rule.pattern[i]!;
    const alts = typeof token === "string" ? [token] : token;
    const word = argv[i]!;
    // A word the shell may expand: never enough for allow, enough for prompt/forbidden when it
    // could become the token (a ~ word could become any path).
    const ok = globs.includes(i)
      ? rule.decision !== "allow" && (word.length > MAX_GLOB_LENGTH || word.includes("~") || alts.some((a) => globMatch(word, a)))
      : alts.includes(word);
    if (!ok) return undefined;
  }
  const m: RuleMatch = { matchedPrefix: argv.slice(0, rule.pattern.length), decision: rule.decision, rule };
  if (rule.justification !== undefined) m.justification = rule.justification;
  return m;
}

function strictest(decisions: RuleDecision[]): RuleDecision {
  return decisions.reduce((a, d) => (SEVERITY[d] > SEVERITY[a] ? d : a), "allow" as RuleDecision);
}

function emptyDefinitions(): RuleDefinitions {
  return { prefixRules: [], networkRules: [], hostExecutables: new Map(), examples: [] };
}
