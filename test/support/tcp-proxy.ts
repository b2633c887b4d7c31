// A TCP proxy a test controls, standing in for a flaky network between a client and
// an exec server: it forwards to a TCP port or a Unix socket, can cut every live
// connection at once, and can stop accepting new ones for a while.
import net from "node:net";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

export type ProxyTarget = { port: number; host?: string } | { path: string };

export interface TcpProxy extends AsyncDisposable {
  /** The port clients connect to (on 127.0.0.1). */
  readonly port: number;
  /** Connections accepted so far (cut or not). */
  readonly accepted: number;
  /** Connections reset because the proxy was paused. */
  readonly refused: number;
  /** Connections open right now. */
  readonly live: number;
  /** Bytes forwarded server → client so far. */
  readonly bytesDown: number;
  /** Destroys every live connection, both sides, as a cut cable would. Returns how many. */
  cut(): number;
  /** New connections are reset at once until resume(); live ones carry on. */
  pause(): void;
  resume(): void;
  /** Resolves once `n` connections in total were refused while paused. */
  waitForRefused(n: number): Promise<void>;
  /** Resolves once `n` connections in total were accepted. */
  waitForAccepted(n: number): Promise<void>;
  /** Resolves once at least `bytes` in total went server → client. */
  waitForBytesDown(bytes: number): Promise<void>;
  /** Resolves once `text` (ASCII) went server → client, within the last 64 KiB forwarded. */
  waitForTextDown(text: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: ProxyTarget): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let paused = false;
  let accepted = 0;
  let refused = 0;
  let bytesDown = 0;
  // The tail of what went down, for waitForTextDown (bounded: only the recent past matters).
  let tailDown = "";
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const until = (ok: () => boolean) =>
    new Promise<void>((resolve) => {
      if (ok()) return resolve();
      const check = () => {
        if (!ok()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });

  const server = net.createServer((client) => {
    if (paused) {
      refused++;
      client.resetAndDestroy();
      notify();
      return;
    }
    accepted++;
    const upstream = "path" in target ? net.connect(target.path) : net.connect(target.port, target.host ?? "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      bytesDown += chunk.byteLength;
      tailDown = (tailDown + chunk.toString("latin1")).slice(-64 * 1024);
      notify();
    });
    upstream.pipe(client);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // Either side failing or closing takes the other down: that is what a cut looks like.
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    notify();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(TetherError.from(err, "tcp proxy: cannot listen on 127.0.0.1")));
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new TetherError(ErrorCode.Internal, "tcp proxy: no port assigned");

  const close = async () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    get live() {
      return pairs.size;
    },
    get bytesDown() {
      return bytesDown;
    },
    cut() {
      const n = pairs.size;
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
      return n;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
    waitForAccepted: (n) => until(() => accepted >= n),
    waitForRefused: (n) => until(() => refused >= n),
    waitForBytesDown: (bytes) => until(() => bytesDown >= bytes),
    waitForTextDown: (text) => until(() => tailDown.includes(text)),
    close,
    [Symbol.asyncDispose]: close,
  };
}
