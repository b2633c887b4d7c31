// "Accept and add a rule": appends a prefix_rule (or network_rule) line to the user's rule
// file, written whole to a temporary file and renamed so a crash never leaves half a line;
// appends to one file are serialised in this process and, with a lock file, across processes.
// The caller reloads ExecPolicy after.
import { randomUuid } from "../../common/random-uuid.js";
import { chmod, close, mkdir, open, readFile, rename, rm, stat, writeFile } from "../../common/fs-async.js";
import { setTimeout as delay } from "node:timers/promises";
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

/** Codex's loader needs `protocol`; tether's makes it optional (and decides by host alone). */
export function renderNetworkRule(rule: NetworkRuleText): string {
  let line = `network_rule(host=${JSON.stringify(rule.host)}`;
  if (rule.protocol !== undefined) line += `, protocol=${JSON.stringify(rule.protocol)}`;
  line += `, decision="${rule.decision}"`;
  if (rule.justification !== undefined && rule.justification.trim() !== "") line += `, justification=${JSON.stringify(rule.justification)}`;
  return `${line})`;
}

export interface NetworkRuleText {
  host: string;
  decision: NetworkDecision;
  protocol?: string;
  justification?: string;
}

export async function appendPrefixRule(file: string, rule: PrefixRuleProposal, options: { signal?: AbortSignal } = {}): Promise<void> {
  await appendRuleLine(file, renderPrefixRule(rule), options);
}

export async function appendNetworkRule(
  file: string,
  rule: NetworkRuleText,
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

/** How long a lock file may sit before it is taken for a crashed holder's. */
const STALE_LOCK_MS = 30_000;
const MAX_LOCK_WAITS = 200;

async function writeLine(file: string, line: string, signal: AbortSignal | undefined): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    // Another process (a second agent server) may append at the same moment: the whole
    // read-modify-rename happens under an exclusive lock file next to the rules.
    await withLockFile(`${file}.lock`, signal, async () => {
      const { text, mode } = await readRules(file);
      if (text.split("\n").some((l) => l === line)) return;
      const sep = text === "" || text.endsWith("\n") ? "" : "\n";
      const temp = `${file}.tmp-${process.pid}-${randomUuid().slice(0, 8)}`;
      try {
        await writeFile(temp, `${text}${sep}${line}\n`, { mode, flag: "wx" });
        await chmod(temp, mode); // writeFile's mode is filtered by the umask
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    });
  } catch (err) {
    throw TetherError.from(err, `adding a rule to ${file}`);
  }
}

async function withLockFile(lock: string, signal: AbortSignal | undefined, fn: () => Promise<void>): Promise<void> {
  for (let wait = 0; ; wait++) {
    signal?.throwIfAborted();
    try {
      await close(await open(lock, "wx", 0o600));
      break;
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw err;
    }
    const info = await stat(lock).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
      await rm(lock, { force: true }); // its holder died mid-append; the rules file itself is whole (rename)
      continue;
    }
    if (wait >= MAX_LOCK_WAITS) {
      throw new TetherError(ErrorCode.Unavailable, `${lock} is held by another process: try again, or remove it if no tether is running`);
    }
    await delay(5 + Math.min(wait, 20) * 2, undefined, signal ? { signal } : {});
  }
  try {
    await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

async function readRules(file: string): Promise<{ text: string; mode: number }> {
  try {
    const text = await readFile(file, "utf8");
    // The rename must not change who may read the rules.
    return { text, mode: (await stat(file)).mode & 0o7777 };
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
    return { text: "", mode: 0o600 };
  }
}

