// "Accept and add a rule": appends a prefix_rule (or network_rule) line to the user's rule
// file, written whole to a temporary file and renamed so a crash never leaves half a line;
// appends to one file are serialised in this process. The caller reloads ExecPolicy after.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { errnoCode, ErrorCode, TetherError } from "../../common/tether-error.js";
import type { PrefixRuleProposal } from "./approval-types.js";
import { ExecPolicy } from "./exec-policy.js";
import type { NetworkDecision } from "./rule-definitions.js";

/** `$TETHER_HOME/rules/default.rules`, where accepted rules go (Codex keeps the same name). */
export function defaultRulesFile(tetherHome: string): string {
  return path.join(tetherHome, "rules", "default.rules");
}

export function rulesDir(tetherHome: string): string {
  return path.join(tetherHome, "rules");
}

/** The rule as one line of Starlark; strings are JSON-quoted, which Starlark reads back unchanged. */
export function renderPrefixRule(rule: PrefixRuleProposal): string {
  if (rule.pattern.length === 0 || rule.pattern.some((t) => typeof t !== "string" || t === "")) {
    throw new TetherError(ErrorCode.InvalidArgument, "a rule pattern needs at least one non-empty token");
  }
  if (!["allow", "prompt", "forbidden"].includes(rule.decision)) {
    throw new TetherError(ErrorCode.InvalidArgument, `rule decision must be allow, prompt or forbidden (got ${JSON.stringify(rule.decision)})`);
  }
  let line = `prefix_rule(pattern=[${rule.pattern.map((t) => JSON.stringify(t)).join(", ")}], decision="${rule.decision}"`;
  if (rule.justification !== undefined && rule.justification.trim() !== "") line += `, justification=${JSON.stringify(rule.justification)}`;
  return `${line})`;
}

export function renderNetworkRule(rule: { host: string; decision: NetworkDecision; justification?: string }): string {
  let line = `network_rule(host=${JSON.stringify(rule.host)}, decision="${rule.decision}"`;
  if (rule.justification !== undefined && rule.justification.trim() !== "") line += `, justification=${JSON.stringify(rule.justification)}`;
  return `${line})`;
}

export async function appendPrefixRule(file: string, rule: PrefixRuleProposal, options: { signal?: AbortSignal } = {}): Promise<void> {
  await appendRuleLine(file, renderPrefixRule(rule), options);
}

export async function appendNetworkRule(
  file: string,
  rule: { host: string; decision: NetworkDecision; justification?: string },
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  await appendRuleLine(file, renderNetworkRule(rule), options);
}

const queues = new Map<string, Promise<void>>();

async function appendRuleLine(file: string, line: string, options: { signal?: AbortSignal }): Promise<void> {
  ExecPolicy.parse(line, file); // never write a line the loader would refuse
  const key = path.resolve(file);
  const previous = queues.get(key) ?? Promise.resolve();
  const mine = previous.then(() => writeLine(key, line, options.signal));
  // The queue must go on after a failure: the next append does not depend on this one.
  const tail = mine.catch(() => undefined);
  queues.set(key, tail);
  try {
    await mine;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

async function writeLine(file: string, line: string, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  try {
    await mkdir(path.dirname(file), { recursive: true });
    let existing = "";
    let mode = 0o600;
    try {
      existing = await readFile(file, "utf8");
      mode = (await stat(file)).mode & 0o7777; // the rename must not change who may read the rules
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
    if (existing.split("\n").some((l) => l === line)) return;
    const sep = existing === "" || existing.endsWith("\n") ? "" : "\n";
    const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(temp, `${existing}${sep}${line}\n`, { mode, flag: "wx" });
      await chmod(temp, mode); // writeFile's mode is filtered by the umask
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  } catch (err) {
    throw TetherError.from(err, `adding a rule to ${file}`);
  }
}
