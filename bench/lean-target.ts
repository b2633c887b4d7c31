// tether's run path as the CLI takes it: the lean node:http2 client with the hand-written
// ProcessWire codecs, straight to an exec server (no Environment, no grpc-js), reading Attach
// through the engine's resumableAttach as `tether run` does (each stream read to its end).
import { CLIENT_STREAM_WINDOW_BYTES } from "../services/common/resume-window.js";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";
import { LeanChannel } from "../clients/environment/lean/lean-channel.js";
import { type AttachResponseWire, ProcessWire } from "../clients/environment/lean/process-wire.js";
import { DEFAULT_RECONNECT, Outage } from "../clients/environment/reconnect.js";
import { resumableAttach } from "../clients/environment/resumable-attach.js";
import type { TetherTarget } from "./targets.js";

export type LeanRunTarget = Pick<TetherTarget, "name" | "runTrue" | "streamBytes" | "close">;

export class LeanTarget implements LeanRunTarget {
  readonly name = "lean client (ProcessWire)";
  private next = 0;
  private readonly channel: LeanChannel;

  constructor(url: string) {
    // The window `tether run` uses (clients/cli/lean-run.ts); HTTP/2's 64 KiB default would
    // cap a stream at one window per round trip.
    this.channel = LeanChannel.connect({ target: url, windowBytes: CLIENT_STREAM_WINDOW_BYTES });
  }

  private id(): string {
    return `bench-lean-${process.pid}-${this.next++}`;
  }

  async runTrue(): Promise<void> {
    const processId = this.id();
    await this.channel.unary(ProcessWire.start, { processId, spec: { argv: ["/bin/true"] } });
    for await (const ev of this.attach(processId)) {
      if (ev.event.case === "exited") {
        if (ev.event.value.status?.code !== 0) throw new TetherError(ErrorCode.Internal, `/bin/true exited with ${ev.event.value.status?.code}`);
        return;
      }
    }
    throw new TetherError(ErrorCode.Internal, "the attach stream ended without an exit event");
  }

  private attach(processId: string): AsyncIterable<AttachResponseWire> {
    return resumableAttach((afterSeq) => this.channel.serverStream(ProcessWire.attach, { processId, afterSeq }), {
      outage: new Outage({ ...DEFAULT_RECONNECT, giveUpAfterMs: 0 }, this.name),
    });
  }

  async streamBytes(n: number): Promise<number> {
    const processId = this.id();
    // OverflowPolicy 1 = BLOCK: the server pauses the child instead of dropping output.
    await this.channel.unary(ProcessWire.start, { processId, spec: { argv: ["head", "-c", String(n), "/dev/zero"], output: { overflow: 1 } } });
    let bytes = 0;
    for await (const ev of this.attach(processId)) {
      if (ev.event.case === "output") bytes += ev.event.value.data.byteLength;
      if (ev.event.case === "gap") throw new TetherError(ErrorCode.DataLoss, `output was dropped (${ev.event.value.droppedBytes} bytes)`);
    }
    return bytes;
  }

  close(): Promise<void> {
    return this.channel.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
