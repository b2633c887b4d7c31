// The reference workload of the fault tests: `seq 1 N` read through an Attach stream,
// hashed as it arrives and checked for seq continuity, so a reconnect that loses or
// repeats a single chunk is caught.
import { createHash } from "node:crypto";
import type { Environment } from "../../clients/environment/environment.js";
import type { ExitStatus } from "../../gen/tether/exec/v1/process_pb.js";
import { expect } from "vitest";
import { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import type { ReconnectPolicy } from "../../clients/environment/reconnect.js";
import { type ExecServerProcess, startExecServerProcess } from "../support/exec-server-process.js";
import { type TcpProxy, startTcpProxy } from "../support/tcp-proxy.js";

/** sha256 and length of what `seq 1 n` prints. */
export function seqDigest(n: number): { sha256: string; bytes: number } {
  const hash = createHash("sha256");
  let bytes = 0;
  const batch = 10_000;
  for (let from = 1; from <= n; from += batch) {
    const to = Math.min(n, from + batch - 1);
    let text = "";
    for (let i = from; i <= to; i++) text += `${i}\n`;
    hash.update(text);
    bytes += text.length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

export interface ReadResult {
  sha256: string;
  bytes: number;
  exit: ExitStatus;
  /** Output events whose seq did not increase (a repeat), and every gap event. Merged output
   *  (Attach sends several waiting chunks as one event with the last seq) may skip numbers. */
  discontinuities: Array<{ after: bigint; got: bigint }>;
  startedEvents: number;
}

/** Reads a process's stdout to its exit; `onBytes` sees the running total. */
export async function readChecked(env: Environment, processId: string, onBytes?: (total: number) => void, signal?: AbortSignal): Promise<ReadResult> {
  const hash = createHash("sha256");
  let bytes = 0;
  let last: bigint | undefined;
  let startedEvents = 0;
  const discontinuities: ReadResult["discontinuities"] = [];
  for await (const ev of env.processes.attach(processId, { signal })) {
    switch (ev.event.case) {
      case "started":
        startedEvents++;
        last = ev.seq;
        break;
      case "output":
        if (last !== undefined && ev.seq <= last) discontinuities.push({ after: last, got: ev.seq });
        last = ev.seq;
        hash.update(ev.event.value.data);
        bytes += ev.event.value.data.byteLength;
        onBytes?.(bytes);
        break;
      case "gap":
        discontinuities.push({ after: last ?? 0n, got: ev.seq });
        last = ev.seq;
        break;
      case "exited":
        return { sha256: hash.digest("hex"), bytes, exit: ev.event.value.status!, discontinuities, startedEvents };
    }
  }
  throw new Error(`attach to ${processId} ended without an exit event after ${bytes} bytes`);
}

/** A real exec server behind a TCP proxy the test can cut, and an environment through it. */
export interface ProxiedServer {
  server: ExecServerProcess;
  proxy: TcpProxy;
  env: GrpcEnvironment;
  close(): Promise<void>;
}

export async function startProxiedServer(reconnect: Partial<ReconnectPolicy>): Promise<ProxiedServer> {
  const server = await startExecServerProcess();
  const proxy = await startTcpProxy({ path: server.url.slice("unix://".length) });
  const env = await GrpcEnvironment.connect({ kind: "grpc", host: "127.0.0.1", port: proxy.port }, { reconnect, connectTimeoutMs: 10_000 });
  return {
    server,
    proxy,
    env,
    async close() {
      await env.close();
      await proxy.close();
      await server.close();
    },
  };
}

/**
 * Starts a long-running process and attaches past its started event and first output, so
 * the stream is live; `pending` is the read waiting for the next event (a fault ends it).
 */
export async function attachLive(env: Environment, processId: string) {
  await env.processes.start(processId, { argv: ["sh", "-c", "echo up; exec sleep 300"] });
  const stream = env.processes.attach(processId)[Symbol.asyncIterator]();
  expect((await stream.next()).value?.event.case).toBe("started");
  expect((await stream.next()).value?.event.case).toBe("output");
  const pending = stream.next();
  pending.catch(() => undefined);
  return { stream, pending };
}
