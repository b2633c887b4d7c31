// Where rollouts live: `$TETHER_HOME/sessions/<threadId>.jsonl`, plus `index.jsonl` (one
// ThreadInfo snapshot per line, the last per thread wins) so listing thousands of threads
// reads one file. The index is a cache: a lost or stale one is rebuilt from the rollouts.
import { appendFile, close, mkdir, open, readFile, readdir, rename, writeFile } from "../../common/fs-async.js";
import os from "node:os";
import path from "node:path";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";
import { parseRollout } from "./rollout-reader.js";
import type { RolloutRecord } from "./rollout-record.js";
import type { ThreadInfo } from "./thread-event.js";

const ID = /^[A-Za-z0-9_-]{1,128}$/;

export function defaultTetherHome(): string {
  return process.env.TETHER_HOME ?? path.join(os.homedir(), ".tether");
}

export class RolloutStore {
  readonly dir: string;
  readonly #indexPath: string;
  /** In-memory copy of the index once loaded (this process is its only writer). */
  #index: Map<string, ThreadInfo> | undefined;
  #loading: Promise<Map<string, ThreadInfo>> | undefined;
  /** Noted before the index was loaded: newer than what the file held when the load reads it. */
  readonly #noted = new Map<string, ThreadInfo>();
  /** Appends made before the index was loaded: the load reads the file after them. */
  #appends: Promise<unknown> = Promise.resolve();

  constructor(tetherHome: string) {
    this.dir = path.join(tetherHome, "sessions");
    this.#indexPath = path.join(this.dir, "index.jsonl");
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  pathFor(threadId: string): string {
    if (!ID.test(threadId)) throw new TetherError(ErrorCode.InvalidArgument, `thread id ${JSON.stringify(threadId)} is not valid: ids are letters, digits, - and _`);
    return path.join(this.dir, `${threadId}.jsonl`);
  }

  async exists(threadId: string): Promise<boolean> {
    try {
      await close(await open(this.pathFor(threadId), "r"));
      return true;
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return false;
      throw TetherError.from(err);
    }
  }

  /** Records a thread's latest info in the index (at creation and at each turn's end). */
  async noteThread(info: ThreadInfo): Promise<void> {
    const line = `${JSON.stringify(info)}\n`;
    if (this.#index || this.#loading) {
      const index = await this.#load();
      index.set(info.threadId, info);
      await appendFile(this.#indexPath, line, { mode: 0o600 });
      return;
    }
    // Not loaded yet (a new thread of `tether exec`): the line is appended without reading the
    // whole index and the directory first — that read (all of it, for thousands of threads)
    // held back the first model request (issue 15). Listing loads it later, the line included.
    this.#noted.set(info.threadId, info);
    const appended = appendFile(this.#indexPath, line, { mode: 0o600 });
    this.#appends = Promise.all([this.#appends, appended.catch(() => undefined)]);
    await appended;
  }

  async list(options: { limit?: number; cwd?: string } = {}): Promise<ThreadInfo[]> {
    const index = await this.#load();
    const all = [...index.values()].filter((t) => !options.cwd || t.cwd === options.cwd);
    all.sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0));
    return options.limit ? all.slice(0, options.limit) : all;
  }

  #load(): Promise<Map<string, ThreadInfo>> {
    if (this.#index) return Promise.resolve(this.#index);
    this.#loading ??= this.#read().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  async #read(): Promise<Map<string, ThreadInfo>> {
    await this.#appends;
    const index = new Map<string, ThreadInfo>();
    let text: string | undefined;
    try {
      text = await readFile(this.#indexPath, "utf8");
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw TetherError.from(err, `reading ${this.#indexPath}`);
    }
    for (const line of (text ?? "").split("\n")) {
      if (!line) continue;
      try {
        const info = JSON.parse(line) as ThreadInfo;
        index.set(info.threadId, info);
      } catch {
        // A torn line from a crash: the rollouts below fill in whatever it held.
      }
    }
    // Rollouts the index does not know (a lost index, a crash before the index line).
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const missing = names.filter((n) => n.endsWith(".jsonl") && n !== "index.jsonl" && !index.has(n.slice(0, -6)));
    for (const name of missing) {
      try {
        const state = parseRollout(await readFile(path.join(this.dir, name), "utf8"), name);
        index.set(state.thread.threadId, state.thread);
      } catch {
        // An unreadable rollout is left out of the listing; opening it reports why.
      }
    }
    for (const [id, info] of this.#noted) index.set(id, info);
    this.#noted.clear();
    if (missing.length > 0) await this.#rewrite(index);
    this.#index = index;
    return index;
  }

  async #rewrite(index: Map<string, ThreadInfo>): Promise<void> {
    const tmp = `${this.#indexPath}.${process.pid}.tmp`;
    await writeFile(tmp, [...index.values()].map((t) => `${JSON.stringify(t)}\n`).join(""), { mode: 0o600 });
    await rename(tmp, this.#indexPath);
  }
}

/** The first line of a new rollout. */
export function metaRecord(
  thread: ThreadInfo,
  forkedFrom?: { threadId: string; turnCount: number },
  format = 1,
  extra: { execSessionId?: string; writableRoots?: string[]; execNextId?: number } = {},
): RolloutRecord {
  return { t: "meta", format, thread, ...(forkedFrom ? { forkedFrom } : {}), ...extra };
}
