// File transfer throughput: tether's FileSystem WriteFile/ReadFile streams against sftp over
// the multiplexed ssh connection, and a local `cp` as the limit.
import { open, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CodexPeerSlot } from "../codex-stdio-peer.js";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { mibPerSec, spawnToExit, timeMs } from "../benchmark.js";
import { runProgram } from "../ssh-peer.js";

const FULL_BYTES = 256 * 1024 * 1024;
const QUICK_BYTES = 8 * 1024 * 1024;

/** Random bytes (ssh does not compress by default, but random data keeps every path honest). */
async function makeFile(path: string, size: number): Promise<void> {
  const fh = await open(path, "w");
  try {
    const block = randomBytes(1024 * 1024);
    for (let done = 0; done < size; done += block.length) await fh.write(block, 0, Math.min(block.length, size - done));
  } finally {
    await fh.close();
  }
}

/** Codex's fs/writeFile and fs/readFile carry a whole file base64 in one JSON message. */
// Codex's stdio transport closes its stdin on a line past ~32–48 MiB (a 48 MiB file's base64
// did, measured with 0.171.0), and it moves a file as one base64 message.
const CODEX_MAX_BYTES = 32 * 1024 * 1024;

function transfer(direction: "up" | "down"): Benchmark {
  return {
    name: `transfer-${direction}`,
    title: direction === "up" ? "Upload a file into the environment" : "Download a file from the environment",
    unit: "MiB/s",
    better: "higher",
    rounds: (quick) => (quick ? { warmup: 0, measured: 2 } : { warmup: 1, measured: 8 }),
    subjects(ctx: BenchContext): Subject[] {
      const size = ctx.quick ? QUICK_BYTES : FULL_BYTES;
      const source = join(ctx.tmp, `transfer-${direction}-source`);
      const target = join(ctx.tmp, `transfer-${direction}-target`);
      const tether = ctx.tether.local;
      const codexSource = join(ctx.tmp, `transfer-${direction}-codex-source`);
      const codex = new CodexPeerSlot();
      let prepared = false;
      const prepare = async () => {
        if (!prepared) await makeFile(source, size);
        prepared = true;
        return undefined;
      };
      const rate = async (run: () => Promise<unknown>) => {
        await rm(target, { force: true });
        return mibPerSec(size, await timeMs(run));
      };
      // Same machine: "remote" and local paths are both in the scratch dir.
      const [from, to] = [source, target];
      return [
        {
          name: `tether ${direction === "up" ? "WriteFile" : "ReadFile"}`,
          role: "tether",
          setup: async () => (tether ? prepare() : "no local tether target"),
          sample: () => rate(() => (direction === "up" ? tether!.upload(from, to) : tether!.download(from, to))),
        },
        {
          name: `sftp ${direction === "up" ? "put" : "get"} (multiplexed)`,
          role: "peer",
          setup: prepare,
          sample: () =>
            rate(() => runProgram("sftp", ctx.peer.sftpArgs(), { input: `${direction === "up" ? "put" : "get"} ${from} ${to}\n` })),
        },
        {
          // Codex moves a file as one base64 message each way: capped at 32 MiB (its own file), the rate is per MiB all the same.
          name: `codex exec-server (stdio) fs/${direction === "up" ? "writeFile" : "readFile"}${size > CODEX_MAX_BYTES ? " (32 MiB file)" : ""}`,
          role: "peer",
          setup: async () => {
            const missing = await codex.open(ctx.tmp);
            if (missing === undefined) await makeFile(codexSource, Math.min(size, CODEX_MAX_BYTES));
            return missing;
          },
          sample: async () => {
            await rm(target, { force: true });
            const ms = await timeMs(() => (direction === "up" ? codex.peer.upload(codexSource, to) : codex.peer.download(codexSource, to)));
            return mibPerSec(Math.min(size, CODEX_MAX_BYTES), ms);
          },
          teardown: () => codex.close(),
        },
        { name: "local cp", role: "limit", setup: prepare, sample: () => rate(() => spawnToExit("cp", [from, to])) },
      ];
    },
    notes: (ctx) => [`file size ${ctx.quick ? "8 MiB (quick)" : "256 MiB"}; source and target on the same disk (page cache).`],
  };
}

export const transferUp = transfer("up");
export const transferDown = transfer("down");
