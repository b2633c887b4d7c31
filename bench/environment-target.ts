// The tether side of the benchmarks over the Environment contract (clients/environment), so
// any backend (exec server on a socket, container, remote) is measured the same way.
import { createReadStream, createWriteStream } from "node:fs";
import { once } from "node:events";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";
import { OverflowPolicy } from "../gen/tether/exec/v1/process_pb.js";
import type { Environment } from "../clients/environment/environment.js";
import { ECHO_SCRIPT, StreamEcho } from "./stream-echo.js";
import type { EchoSession, TetherTarget } from "./targets.js";

export class EnvironmentTarget implements TetherTarget {
  private next = 0;

  constructor(
    readonly name: string,
    private readonly env: Environment,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  private id(): string {
    return `bench-${process.pid}-${this.next++}`;
  }

  /** Start, then attach until the exit event: what `tether run` does. */
  async runTrue(): Promise<void> {
    const id = this.id();
    await this.env.processes.start(id, { argv: ["/bin/true"] });
    for await (const ev of this.env.processes.attach(id)) {
      if (ev.event.case === "exited") {
        if (ev.event.value.status?.code !== 0) throw new TetherError(ErrorCode.Internal, `/bin/true exited with ${ev.event.value.status?.code}`);
        return;
      }
    }
    throw new TetherError(ErrorCode.Internal, "the attach stream ended without an exit event");
  }

  async streamBytes(n: number): Promise<number> {
    const id = this.id();
    await this.env.processes.start(id, { argv: ["head", "-c", String(n), "/dev/zero"], output: { overflow: OverflowPolicy.BLOCK } });
    let bytes = 0;
    for await (const ev of this.env.processes.attach(id)) {
      if (ev.event.case === "output") bytes += ev.event.value.data.byteLength;
      if (ev.event.case === "gap") throw new TetherError(ErrorCode.DataLoss, `output was dropped (${ev.event.value.droppedBytes} bytes)`);
    }
    return bytes;
  }

  async openEcho(): Promise<EchoSession> {
    const id = this.id();
    const processes = this.env.processes;
    await processes.start(id, { argv: ["/bin/sh", "-c", ECHO_SCRIPT], tty: { rows: 24, cols: 80 }, stdinOpen: true });
    const stop = new AbortController();
    let listener: ((b: Buffer | string) => void) | undefined;
    // Keystrokes go over one stdin stream, as `tether run` sends them from a terminal.
    const stdin = processes.openStdin(id, { signal: stop.signal });
    const echo = new StreamEcho(
      // Keystrokes are sent one at a time; the round trip waits for the echo anyway.
      (b) => void stdin.write(b).catch((err: unknown) => echo.fail(TetherError.from(err).message)),
      (cb) => (listener = cb),
      async () => {
        await processes.terminate(id).catch(() => undefined);
        stop.abort();
        await stdin.close();
      },
    );
    void (async () => {
      try {
        for await (const ev of processes.attach(id, { signal: stop.signal })) {
          if (ev.event.case === "output") listener?.(Buffer.from(ev.event.value.data));
        }
        echo.fail("the tether PTY process ended");
      } catch (err) {
        echo.fail(TetherError.from(err).message);
      }
    })();
    await echo.waitReady();
    return echo;
  }

  async upload(localPath: string, remotePath: string): Promise<void> {
    await this.env.files.writeFile({ path: remotePath }, createReadStream(localPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>);
  }

  async download(remotePath: string, localPath: string): Promise<void> {
    const out = createWriteStream(localPath);
    try {
      for await (const chunk of this.env.files.readFile(remotePath).chunks) {
        if (!out.write(chunk)) await once(out, "drain");
      }
    } finally {
      out.end();
      await once(out, "close");
    }
  }

  async close(): Promise<void> {
    await this.env.close();
    await this.onClose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
