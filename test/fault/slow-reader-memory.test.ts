// A client that attaches and then stops reading must not make the exec server hold the
// output: 400 MB of it passes (DROP_OLDEST) or waits in the producer (BLOCK) while the
// server's resident memory stays within the retained cap plus a fixed slack.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import { OverflowPolicy, ProcessState } from "../../gen/tether/exec/v1/process_pb.js";
import type { AttachResponse } from "../../gen/tether/exec/v1/process_pb.js";
import { alive, pollUntil } from "../support/exec-harness.js";
import { type ExecServerProcess, startExecServerProcess } from "../support/exec-server-process.js";

const MIB = 1 << 20;
const PRODUCED = 400_000_000;
const RETAINED = 4 * MIB;
// Node's own growth under load (heap, pipe and HTTP/2 buffers) that has nothing to do with
// how much output is produced: on Node 24, with the other suites running, garbage from the
// pipe reads reached ~100 MiB before a GC took it. 400 MB held would be far above it.
const SLACK = 128 * MIB;

async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** Attaches, takes the started event and one chunk, then never asks for more. */
async function stalledReader(env: GrpcEnvironment, processId: string, signal: AbortSignal): Promise<AsyncIterator<AttachResponse>> {
  const it = env.processes.attach(processId, { signal, allowGaps: true })[Symbol.asyncIterator]();
  expect((await it.next()).value?.event.case).toBe("started");
  expect((await it.next()).value?.event.case).toBe("output");
  return it;
}

/**
 * Waits until the producer has stopped producing: its last seq stays put over several
 * looks. Nothing announces backpressure (ProcessInfo.paused is the elicitation pause).
 */
async function producerStalls(env: GrpcEnvironment, processId: string): Promise<void> {
  let last = -1n;
  let same = 0;
  await pollUntil(
    async () => {
      const [info] = (await env.processes.list()).filter((p) => p.processId === processId);
      if (!info) throw new Error(`${processId} is not listed`);
      same = info.lastSeq === last ? same + 1 : 0;
      last = info.lastSeq;
      return same >= 5;
    },
    `${processId} to stop producing`,
    20_000,
    100,
  );
}

describe("a reader that stops reading", () => {
  let server: ExecServerProcess;
  let env: GrpcEnvironment;
  let baseline: number;

  beforeAll(async () => {
    server = await startExecServerProcess({ args: ["--retain-bytes", String(RETAINED)] });
    env = await GrpcEnvironment.connect({ kind: "unix", path: server.url.slice("unix://".length) });
    // Warm the server up (first process, first stream) before taking the baseline.
    await env.processes.start("warmup", { argv: ["seq", "1", "100000"] });
    for await (const ev of env.processes.attach("warmup")) if (ev.event.case === "exited") break;
    baseline = (await memory(server.pid)).hwm;
  });
  afterAll(async () => {
    // A process stuck as in the Terminate test makes CloseSession time out: say so, then stop the server.
    await env?.close().catch((err: unknown) => console.warn(`closing the environment: ${String(err)}`));
    server?.kill("SIGKILL");
    await server?.close();
  });

  it("under BLOCK pauses the producer instead of buffering 400 MB", async () => {
    await env.processes.start("block", { argv: ["head", "-c", String(PRODUCED), "/dev/zero"], output: { overflow: OverflowPolicy.BLOCK } });
    const abort = new AbortController();
    const reader = await stalledReader(env, "block", abort.signal);
    try {
      await producerStalls(env, "block");
      const mem = await memory(server.pid);
      expect(mem.hwm - baseline).toBeLessThan(RETAINED + SLACK);
    } finally {
      abort.abort();
      await reader.return?.();
    }
  });

  it("terminates a producer that is blocked on a full log nobody reads", async () => {
    await env.processes.start("block-nobody", { argv: ["head", "-c", String(PRODUCED), "/dev/zero"], output: { overflow: OverflowPolicy.BLOCK } });
    await producerStalls(env, "block-nobody");
    // Bounded, so a hang fails this test with a diagnosis instead of eating the suite's time.
    const outcome = await Promise.race([
      env.processes.terminate("block-nobody", { graceMs: 200 }).then((status) => ({ status })),
      new Promise<{ hung: string }>((resolve) =>
        setTimeout(async () => {
          const [info] = (await env.processes.list({ includeExited: true })).filter((p) => p.processId === "block-nobody");
          resolve({ hung: `Terminate did not answer within 10 s; the process is still ${info?.state === ProcessState.RUNNING ? "RUNNING" : "EXITED"} (pid ${info?.pid}, alive: ${await alive(info?.pid ?? 0)})` });
        }, 10_000),
      ),
    ]);
    expect(outcome).toMatchObject({ status: { signal: 15 } });
  });

  it("under DROP_OLDEST lets 400 MB pass while the server keeps only the cap", async () => {
    await env.processes.start("drop", { argv: ["head", "-c", String(PRODUCED), "/dev/zero"], output: { overflow: OverflowPolicy.DROP_OLDEST } });
    const abort = new AbortController();
    const reader = await stalledReader(env, "drop", abort.signal);
    try {
      const exit = await env.processes.wait("drop");
      expect(exit.code).toBe(0);
      const [info] = (await env.processes.list({ includeExited: true })).filter((p) => p.processId === "drop");
      expect(Number(info!.droppedBytes)).toBeGreaterThan(PRODUCED - RETAINED - 4 * MIB);
      const mem = await memory(server.pid);
      expect(mem.hwm - baseline).toBeLessThan(RETAINED + SLACK);
      // The stalled reader, once it reads again, learns what it missed instead of failing.
      let gap = false;
      for (let r = await reader.next(); !r.done; r = await reader.next()) {
        if (r.value.event.case === "gap") gap = true;
        if (r.value.event.case === "exited") break;
      }
      expect(gap).toBe(true);
    } finally {
      abort.abort();
      await reader.return?.();
    }
  });
});
