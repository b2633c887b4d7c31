// The client side of the many-processes load (bench concurrency, test/load/many-processes):
// C grpc-js channels to one exec server, N processes started across them, one live Attach
// stream per process, and timed extra Attach/Start calls.
import * as grpc from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { setMaxListeners } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import { ProcessService, ProcessState, type ProcessSpecSchema } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { bindClient } from "../../services/common/grpc-client.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

type Spec = MessageInitShape<typeof ProcessSpecSchema>;

function connect(url: string) {
  // A local subchannel pool: otherwise grpc-js shares one connection among clients with the
  // same target and options, and C clients would be C channels over one socket.
  // No channelz: nothing here reads it, and it stamps every call and message.
  const raw = new grpc.Client(url, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.enable_channelz": 0 });
  return { raw, process: bindClient(ProcessService, raw), session: bindClient(SessionService, raw) };
}
export type Connection = ReturnType<typeof connect>;

export class LoadClient {
  readonly ids: string[] = [];
  /** Output bytes each process's live stream received, and by which client. */
  readonly liveBytes: number[] = [];
  readonly clientBytes: number[];
  private readonly live = new AbortController();
  private readonly liveDone: Promise<void>[] = [];
  private failure: TetherError | undefined;

  private constructor(readonly clients: Connection[]) {
    this.clientBytes = clients.map(() => 0);
    // Every live stream listens on this one signal.
    setMaxListeners(0, this.live.signal);
  }

  static async open(url: string, count: number): Promise<LoadClient> {
    const clients = Array.from({ length: count }, () => connect(url));
    // Connect every channel before timing anything.
    await Promise.all(clients.map((c) => new Promise<void>((res, rej) => c.raw.waitForReady(Date.now() + 30_000, (err) => (err ? rej(err) : res())))));
    return new LoadClient(clients);
  }

  /** Starts `n` processes, client j starting ids j, j+C, … one after another (C in flight). */
  async startAll(n: number, spec: Spec, sessionId = "", prefix = "load"): Promise<void> {
    for (let i = 0; i < n; i++) this.ids.push(`${prefix}-${i}`);
    const c = this.clients.length;
    await Promise.all(
      this.clients.map(async (client, j) => {
        for (let i = j; i < n; i += c) await client.process.start({ processId: this.ids[i]!, spec, sessionId });
      }),
    );
  }

  /** One live Attach stream per process (process i on client i mod C), reading all output. */
  attachAllLive(): void {
    for (const [i, id] of this.ids.entries()) {
      const j = i % this.clients.length;
      this.liveBytes[i] = 0;
      this.liveDone.push(
        (async () => {
          for await (const ev of this.clients[j]!.process.attach({ processId: id, allowGaps: true }, { signal: this.live.signal })) {
            if (ev.event.case !== "output") continue;
            this.liveBytes[i]! += ev.event.value.data.byteLength;
            this.clientBytes[j]! += ev.event.value.data.byteLength;
          }
        })().catch((err: unknown) => {
          if (!this.live.signal.aborted) this.failure ??= TetherError.from(err, `live attach to ${id}`);
        }),
      );
    }
  }

  /** A live stream that failed (not by close) fails the run. */
  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Waits until every live stream has ended (their processes exited), or throws what failed. */
  async liveEnded(): Promise<void> {
    await Promise.all(this.liveDone);
    this.throwIfFailed();
  }

  /** Attach call → first output event, then the call is cancelled. */
  async attachFirstOutput(client: Connection, processId: string): Promise<number> {
    const t0 = performance.now();
    for await (const ev of attachWithoutCallerStack(client, processId)) {
      if (ev.event.case === "output") return performance.now() - t0;
      if (ev.event.case === "exited") break;
    }
    throw new TetherError(ErrorCode.Internal, `${processId} ended its Attach stream without output`);
  }

  /** Every client attaches at once, wave w covering processes w·C … w·C+C-1 (mod N). */
  attachWave(wave: number): Promise<number[]> {
    const c = this.clients.length;
    return Promise.all(this.clients.map((client, j) => this.attachFirstOutput(client, this.ids[(wave * c + j) % this.ids.length]!)));
  }

  /** Start → first output of one more process, through the first client. */
  async startFirstOutput(processId: string, spec: Spec): Promise<number> {
    const t0 = performance.now();
    await this.clients[0]!.process.start({ processId, spec });
    await this.attachFirstOutput(this.clients[0]!, processId);
    return performance.now() - t0;
  }

  /** How many processes List shows running. */
  async running(): Promise<number> {
    const { processes } = await this.clients[0]!.process.list({});
    return processes.filter((p) => p.state === ProcessState.RUNNING).length;
  }

  close(): void {
    this.live.abort();
    for (const c of this.clients) c.raw.close();
  }
}

/**
 * The Attach call, made with no stack trace captured at its creation. grpc-js keeps an Error
 * from each call's start and, when the call ends with any status but OK, formats its stack
 * into the error it emits: every measured Attach ends CANCELLED (we cancel it after the first
 * output), and formatting that async stack was ≈ 9 % of this client's CPU, spent on the same
 * two cores as the server it times. Only the call's creation runs with the limit at 0.
 */
function attachWithoutCallerStack(client: Connection, processId: string) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return client.process.attach({ processId, allowGaps: true });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Resident set size in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The pid of the process whose command line contains `marker` (e.g. its unique socket path). */
export function findPid(marker: string): number {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(marker)) return Number(name);
    } catch {
      // Gone meanwhile.
    }
  }
  throw new TetherError(ErrorCode.NotFound, `no process with ${marker} in its command line`);
}
