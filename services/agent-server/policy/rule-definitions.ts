// What the calls of a rule file mean: Codex's prefix_rule, network_rule and host_executable
// with their argument checks. Produces plain rule records; matching lives in ExecPolicy.
import { GlobMatcher } from "../../common/glob-matcher.js";
import { lexShell, ShellRefusal } from "./shell-lexer.js";
import { ruleError, type RuleArg, type RuleCall, type RuleValue, type SourcePos } from "./rules-parser.js";

export type RuleDecision = "allow" | "prompt" | "forbidden";
export type NetworkDecision = "allow" | "prompt" | "deny";

export interface PrefixRule {
  /** Tokens matched in order; an array element lists alternatives for that position. */
  pattern: (string | string[])[];
  decision: RuleDecision;
  justification?: string;
  source: SourcePos;
}

export interface NetworkRule {
  /** A host name or a glob over host names (`*.example.com`), lower case. */
  host: string;
  decision: NetworkDecision;
  protocol?: string;
  justification?: string;
  source: SourcePos;
}

export interface RuleExamples {
  rule: PrefixRule;
  match: string[][];
  notMatch: string[][];
}

export interface RuleDefinitions {
  prefixRules: PrefixRule[];
  networkRules: NetworkRule[];
  /** Bare program name → absolute paths that count as it for allow rules. */
  hostExecutables: Map<string, string[]>;
  examples: RuleExamples[];
}

const SIGNATURES: Record<string, { params: string[]; required: string[] }> = {
  prefix_rule: { params: ["pattern", "decision", "match", "not_match", "justification"], required: ["pattern"] },
  network_rule: { params: ["host", "protocol", "decision", "justification"], required: ["host", "decision"] },
  host_executable: { params: ["name", "paths"], required: ["name", "paths"] },
};
const PROTOCOLS = new Set(["http", "https", "https_connect", "http-connect", "socks5_tcp", "socks5_udp"]);

export function defineRules(calls: RuleCall[], into: RuleDefinitions): void {
  for (const call of calls) {
    const args = bindArgs(call);
    if (call.name === "prefix_rule") {
      const rule: PrefixRule = {
        pattern: pattern(args.get("pattern")!),
        decision: decision(args.get("decision"), ["allow", "prompt", "forbidden"], "allow") as RuleDecision,
        source: call.at,
      };
      const justification = optionalText(args.get("justification"));
      if (justification !== undefined) rule.justification = justification;
      into.prefixRules.push(rule);
      into.examples.push({ rule, match: examples(args.get("match")), notMatch: examples(args.get("not_match")) });
    } else if (call.name === "network_rule") {
      const raw = decision(args.get("decision"), ["allow", "prompt", "deny", "forbidden"], undefined);
      const rule: NetworkRule = {
        host: hostPattern(args.get("host")!),
        decision: raw === "forbidden" ? "deny" : (raw as NetworkDecision),
        source: call.at,
      };
      const protocol = args.get("protocol");
      if (protocol !== undefined) {
        const value = text(protocol);
        if (!PROTOCOLS.has(value)) throw ruleError(protocol.at, `protocol must be one of ${[...PROTOCOLS].join(", ")} (got ${JSON.stringify(value)})`);
        rule.protocol = value;
      }
      const justification = optionalText(args.get("justification"));
      if (justification !== undefined) rule.justification = justification;
      into.networkRules.push(rule);
    } else {
      const nameValue = args.get("name")!;
      const name = text(nameValue);
      if (name === "" || name.includes("/")) throw ruleError(nameValue.at, `host_executable name must be a bare program name (got ${JSON.stringify(name)})`);
      const paths = list(args.get("paths")!).map((v) => {
        const p = text(v);
        if (!p.startsWith("/") || p.slice(p.lastIndexOf("/") + 1) !== name) {
          throw ruleError(v.at, `host_executable path ${JSON.stringify(p)} must be absolute and end in /${name}`);
        }
        return p;
      });
      into.hostExecutables.set(name, [...new Set([...(into.hostExecutables.get(name) ?? []), ...paths])]);
    }
  }
}

function bindArgs(call: RuleCall): Map<string, RuleValue> {
  const sig = SIGNATURES[call.name];
  if (sig === undefined) {
    throw ruleError(call.at, `unknown function ${call.name}: use prefix_rule, network_rule or host_executable`);
  }
  const bound = new Map<string, RuleValue>();
  call.args.forEach((arg: RuleArg, index) => {
    const name = arg.name ?? sig.params[index];
    if (name === undefined) throw ruleError(arg.at, `${call.name} takes at most ${sig.params.length} arguments`);
    if (!sig.params.includes(name)) throw ruleError(arg.at, `${call.name} has no argument ${name} (it takes ${sig.params.join(", ")})`);
    if (bound.has(name)) throw ruleError(arg.at, `argument ${name} is given twice`);
    bound.set(name, arg.value);
  });
  for (const name of sig.required) {
    if (!bound.has(name)) throw ruleError(call.at, `${call.name} needs the argument ${name}`);
  }
  return bound;
}

function text(v: RuleValue): string {
  if (v.kind !== "string") throw ruleError(v.at, "expected a string, found a list");
  return v.value;
}

function list(v: RuleValue): RuleValue[] {
  if (v.kind !== "list") throw ruleError(v.at, `expected a list, found the string ${JSON.stringify(v.value)}`);
  return v.items;
}

function optionalText(v: RuleValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = text(v);
  if (s.trim() === "") throw ruleError(v.at, "justification cannot be empty");
  return s;
}

function decision(v: RuleValue | undefined, allowed: string[], fallback: string | undefined): string {
  if (v === undefined) return fallback!;
  const s = text(v);
  if (!allowed.includes(s)) throw ruleError(v.at, `decision must be ${allowed.join(", ")} (got ${JSON.stringify(s)})`);
  return s;
}

function pattern(v: RuleValue): (string | string[])[] {
  const items = list(v);
  if (items.length === 0) throw ruleError(v.at, "pattern cannot be empty");
  return items.map((item) => {
    if (item.kind === "string") return item.value;
    const alts = item.items.map((alt) => {
      if (alt.kind !== "string") throw ruleError(alt.at, "a pattern alternative must be a string");
      return alt.value;
    });
    if (alts.length === 0) throw ruleError(item.at, "pattern alternatives cannot be empty");
    return alts.length === 1 ? alts[0]! : alts;
  });
}

function examples(v: RuleValue | undefined): string[][] {
  if (v === undefined) return [];
  return list(v).map((example) => {
    if (example.kind === "list") {
      const argv = example.items.map(text);
      if (argv.length === 0) throw ruleError(example.at, "an example cannot be an empty list");
      return argv;
    }
    // Like shlex in Codex: words and quotes only, taken literally (no wrappers removed).
    let argv: string[] = [];
    try {
      argv = lexShell(example.value).map((t) => {
        if (t.type !== "word") throw new ShellRefusal(`\`${t.op === "\n" ? "newline" : t.op}\` is not a word`);
        return t.value;
      });
    } catch (err) {
      if (!(err instanceof ShellRefusal)) throw err;
      throw ruleError(example.at, `example ${JSON.stringify(example.value)} must be words and quotes only: ${err.message}`);
    }
    if (argv.length === 0) throw ruleError(example.at, "an example cannot be an empty string");
    return argv;
  });
}

const HOST_PATTERN = /^[a-z0-9*?.\-_:]+$/;

function hostPattern(v: RuleValue): string {
  let host = text(v).trim().toLowerCase();
  if (host.includes("/") || host.includes("://")) throw ruleError(v.at, "host must be a host name or a glob, without scheme or path");
  if (host.startsWith("[") && host.includes("]")) host = host.slice(1, host.indexOf("]")); // [v6]:port
  else if (/^[^:]+:[0-9]+$/.test(host)) host = host.slice(0, host.indexOf(":")); // name:port
  host = host.replace(/\.$/, "");
  if (host === "" || host.length > 253 || !HOST_PATTERN.test(host)) {
    throw ruleError(v.at, `host ${JSON.stringify(text(v))} is not a host name or glob (letters, digits, . - _ and * ?)`);
  }
  try {
    // The exec layer's proxy compiles the same glob: what it would refuse is refused here.
    GlobMatcher.compile(host, "name", "host");
  } catch (err) {
    throw ruleError(v.at, err instanceof Error ? err.message : String(err));
  }
  return host;
}
