// For the Codex front door's tests: one ExecCore (no cgroups) in a temp dir and its Codex door
// on ws://127.0.0.1:PORT for the whole file, removed after it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ExecCore, type ExecCoreOptions } from "../exec-core.js";
import { type CodexServer, startCodexServer } from "./codex-server.js";

export interface CodexDoor {
  readonly dir: string;
  readonly core: ExecCore;
  /** The door's ws:// URL. */
  readonly url: string;
}

export function codexDoorFixture(prefix: string, coreOptions: Omit<ExecCoreOptions, "defaultCwd" | "cgroups"> = {}): CodexDoor {
  let dir = "";
  let core: ExecCore | undefined;
  let server: CodexServer | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), prefix));
    core = await ExecCore.create({ ...coreOptions, defaultCwd: dir, cgroups: false });
    server = await startCodexServer(core, { listen: "ws://127.0.0.1:0" });
  });
  afterAll(async () => {
    await server?.close();
    await core?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get core() {
      return core!;
    },
    get url() {
      return server!.url;
    },
  };
}
