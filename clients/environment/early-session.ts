// A thread's exec session on an exec server, opened on the lean client before the thread's
// first model request: OpenSession (with the thread's sandbox as its default), then the file
// reads that request needs (AGENTS.md) through that session, with hand-written codecs and no
// grpc-js or generated descriptors. The full GrpcEnvironment opens later on the same session
// id (OpenSession resumes it) and this connection is let go.
import type { FileInfo } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { FileOps, SandboxPolicyInit, Signalable } from "./environment.js";
import { type NetworkTarget, explainConnectError, leanTarget } from "./env-target.js";
import { FileWire } from "./lean/file-wire.js";
import { LeanChannel } from "./lean/lean-channel.js";
import { SessionWire } from "./lean/process-wire.js";

export interface EarlySessionOptions extends Signalable {
  sessionId: string;
  detachedTtlMs?: number;
  defaultSandbox?: SandboxPolicyInit;
  /** Sent as a bearer token (the lean channel refuses it in clear text off loopback). */
  token?: string;
  /** The CA a grpcs:// server's certificate is checked with; default: the system's. */
  caPem?: Buffer;
}

/** The file calls an environment answers before it is open (LazyEnvironmentInit.early). */
export interface EarlySession {
  readonly files: Pick<FileOps, "stat" | "readFile">;
  /** Ends the session on the server (CloseSession) and the connection: nothing else will use it. */
  close(): Promise<void>;
  /** Drops the connection (a call still running is cancelled); the session stays for the full environment (or its TTL). */
  release(): Promise<void>;
}

export async function openEarlySession(target: NetworkTarget, options: EarlySessionOptions): Promise<EarlySession> {
  const channel = LeanChannel.connect({ target: leanTarget(target), token: options.token, caPem: options.caPem });
  const sessionId = options.sessionId;
  try {
    await channel.unary(
      SessionWire.openSession,
      { sessionId, detachedTtlMs: options.detachedTtlMs, defaultSandbox: options.defaultSandbox },
      { timeoutMs: 30_000, signal: options.signal },
    );
  } catch (err) {
    await channel.close().catch(() => undefined);
    throw explainConnectError(err, target);
  }
  // Ended once: by close (CloseSession first) or by release (the session stays for the full environment).
  let ending: Promise<void> | undefined;
  const end = (closeSession: boolean): Promise<void> =>
    (ending ??= (async () => {
      try {
        if (closeSession) await channel.unary(SessionWire.closeSession, { sessionId }, { timeoutMs: 5000 });
      } catch (err) {
        // The server may be gone: its session expiry ends the session then.
        if (!(err instanceof TetherError) || (err.code !== ErrorCode.Unavailable && err.code !== ErrorCode.NotFound)) throw err;
      } finally {
        await channel.close();
      }
    })());
  return {
    files: {
      stat: (path, opts) =>
        channel.unary(FileWire.stat, { path, noFollow: opts?.noFollow, sessionId }, { signal: opts?.signal }).then((res) => {
          if (res.info === undefined) throw new TetherError(ErrorCode.Internal, "the server's answer has no file info");
          return res.info;
        }),
      readFile: (path, opts) => {
        let resolveInfo!: (info: FileInfo) => void;
        let rejectInfo!: (err: unknown) => void;
        const info = new Promise<FileInfo>((res, rej) => ((resolveInfo = res), (rejectInfo = rej)));
        info.catch(() => undefined); // a caller that only reads the chunks sees the error there
        const request = { path, offset: BigInt(opts?.offset ?? 0), length: BigInt(opts?.length ?? 0), sessionId };
        async function* chunks(): AsyncIterable<Uint8Array> {
          let gotInfo = false;
          try {
            for await (const msg of channel.serverStream(FileWire.readFile, request, { signal: opts?.signal })) {
              if (!gotInfo) {
                if (msg.info === undefined) throw new TetherError(ErrorCode.Internal, `ReadFile ${path}: the first message has no file info`);
                gotInfo = true;
                resolveInfo(msg.info);
              }
              if (msg.data.byteLength > 0) yield msg.data;
            }
            if (!gotInfo) throw new TetherError(ErrorCode.Internal, `ReadFile ${path}: the server sent no file info`);
          } catch (err) {
            rejectInfo(err);
            throw err;
          }
        }
        return { info, chunks: chunks() };
      },
    },
    close: () => end(true),
    release: () => end(false),
  };
}
