// Watches files and directory trees. Recursive watches are built from one inotify
// watch per directory (walked ourselves, symlinked directories not followed, new
// directories added as they appear) instead of Node's recursive mode, which on Linux
// also spends one watch per file. Events go through a bounded WatchQueue.
import { watch, lstatSync } from "node:fs";
import type { FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";
import { TEMP_PREFIX } from "./atomic-write.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";
import { WatchQueue } from "./watch-queue.js";
import type { WatchItem } from "./watch-queue.js";

export interface WatchOptions {
  recursive: boolean;
  signal: AbortSignal;
  /** Queued changes beyond this are dropped and reported as one overflow item. */
  queueCapacity: number;
  /** Directories watched at most (each costs an inotify watch). */
  maxWatches: number;
}

/** Yields `ready` once every watch is in place, then changes until the signal aborts. */
export async function* watchPaths(roots: string[], resolver: PathResolver, opts: WatchOptions): AsyncGenerator<WatchItem> {
  const watcher = new TreeWatcher(resolver, opts);
  try {
    for (const root of roots) await watcher.addRoot(root);
    yield { type: "ready" };
    while (true) {
      let item;
      try {
        item = await watcher.queue.take(opts.signal);
      } catch {
        // Aborting is how a watch is meant to end: finish the stream normally.
        return;
      }
      yield item.type === "overflow" ? { ...item, roots } : item;
    }
  } finally {
    watcher.close();
  }
}

class TreeWatcher {
  readonly queue: WatchQueue;
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    private readonly resolver: PathResolver,
    private readonly opts: WatchOptions,
  ) {
    this.queue = new WatchQueue(opts.queueCapacity);
  }

  async addRoot(root: string): Promise<void> {
    let isDir: boolean;
    try {
      isDir = (await stat(root)).isDirectory();
    } catch (err) {
      throw fsError(err, "watch", root);
    }
    this.watchOne(root, isDir, true);
    if (!isDir) return;
    if (this.opts.recursive) await this.addTree(root, false, true);
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Watches every directory under `dir` (not `dir` itself); optionally reports what is there as created. */
  private async addTree(dir: string, reportExisting: boolean, initial: boolean): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      // Gone already: its removal is (or will be) reported by the parent's watch.
      if (!initial && errnoCode(err) === "ENOENT") return;
      throw fsError(err, "watch", dir);
    }
    for (const entry of entries) {
      if (this.closed) return;
      const full = join(dir, entry.name);
      if (!this.resolver.allows(full, "read")) continue;
      if (reportExisting) this.queue.push(full, "created");
      // Dirent types are lstat's: a symlinked directory is not descended.
      if (!entry.isDirectory()) continue;
      if (!this.watchOne(full, true, initial)) continue;
      await this.addTree(full, reportExisting, initial);
    }
  }

  /** Adds one inotify watch; false when it could not be added after setup (counted as dropped). */
  private watchOne(path: string, isDir: boolean, initial: boolean): boolean {
    if (this.closed || this.watchers.has(path)) return false;
    if (this.watchers.size >= this.opts.maxWatches) {
      if (initial) {
        throw new TetherError(ErrorCode.ResourceExhausted, `cannot watch ${path}: more than ${this.opts.maxWatches} directories to watch, watch a smaller tree`);
      }
      this.queue.noteDropped(1);
      return false;
    }
    let w: FSWatcher;
    try {
      w = watch(path, { persistent: false }, (event, name) => this.onEvent(path, isDir, event, name));
    } catch (err) {
      if (!initial && errnoCode(err) === "ENOENT") return false;
      if (errnoCode(err) === "ENOSPC") {
        throw new TetherError(ErrorCode.ResourceExhausted, `cannot watch ${path}: the system's inotify watch limit is reached, watch a smaller tree or raise fs.inotify.max_user_watches`, { cause: err });
      }
      if (!initial) {
        this.queue.noteDropped(1);
        return false;
      }
      throw fsError(err, "watch", path);
    }
    // A watch on a removed directory errors or goes quiet; either way it is done.
    w.on("error", () => this.unwatch(path));
    this.watchers.set(path, w);
    return true;
  }

  private unwatch(path: string): void {
    for (const [p, w] of this.watchers) {
      if (p === path || p.startsWith(path + "/")) {
        w.close();
        this.watchers.delete(p);
      }
    }
  }

  private onEvent(base: string, isDir: boolean, event: string, name: string | null): void {
    if (this.closed) return;
    const full = isDir && name ? join(base, name) : base;
    // Our own atomic writes pass through temp files: that is noise, the rename into place is the news.
    if (name?.startsWith(TEMP_PREFIX)) return;
    if (!this.resolver.allows(full, "read")) return;
    if (event === "change") return this.queue.push(full, "modified");
    // "rename" means appeared or disappeared; Node does not pair moves, so we look.
    // lstatSync keeps events in kernel order, which an awaited stat would not.
    let kind: "file" | "directory" | undefined;
    try {
      const st = lstatSync(full);
      kind = st.isDirectory() ? "directory" : "file";
    } catch {
      // Whatever lstat says (ENOENT, ENOTDIR), there is nothing at this path now.
      kind = undefined;
    }
    if (kind === undefined) {
      this.queue.push(full, "removed");
      if (this.watchers.has(full)) this.unwatch(full);
      return;
    }
    this.queue.push(full, "created");
    if (kind === "directory" && this.opts.recursive && isDir && full !== base) {
      if (this.watchOne(full, true, false)) {
        // Files created before the watch was in place would be missed: report them.
        void this.addTree(full, true, false).catch(() => this.queue.noteDropped(1));
      }
    }
  }
}
