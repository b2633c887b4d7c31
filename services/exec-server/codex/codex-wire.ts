// The wire of Codex's exec-server protocol (as Codex CLI 0.171 speaks it): JSON-RPC-like
// messages without a "jsonrpc" field, one per WebSocket text frame, paths as file:// URLs.
// Param schemas (zod) are the edge: a handler receives a parsed value or the client gets
// -32602 naming the field. Results and notifications are typed here and nowhere else.
import { fileURLToPath, pathToFileURL } from "node:url";
import * as z from "zod";

/** JSON-RPC error codes used on this wire; -32004 is Codex's "not found" (its client maps it to io NotFound). */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  NotFound: -32004,
} as const;

export type RequestId = number | string;

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/** A file:// URL on the wire, a path inside: `file:///a%20b` → `/a b`. */
const fileUrl = z.string().max(16_384).transform((s, ctx) => {
  try {
    const url = new URL(s);
    if (url.protocol !== "file:") throw new Error("not file:");
    return fileURLToPath(url);
  } catch {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(s.slice(0, 200))} is not a file:// URL of an absolute path` });
    return z.NEVER;
  }
});

/** Path of a sandbox entry: Codex writes absolute paths there (a file:// URL is taken too). */
const entryPath = z.string().max(16_384).transform((s, ctx) => {
  if (s.startsWith("/")) return s;
  const parsed = fileUrl.safeParse(s);
  if (parsed.success) return parsed.data;
  ctx.addIssue({ code: "custom", message: `${JSON.stringify(s.slice(0, 200))} is not an absolute path` });
  return z.NEVER;
});

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "is not base64").refine((s) => s.length % 4 === 0, "is not padded base64");

const processId = z.string().min(1).max(256);

const sandboxEntry = z.object({
  path: z.discriminatedUnion("type", [
    z.object({ type: z.literal("special"), value: z.object({ kind: z.string().max(64), subpath: z.string().max(4096).nullish() }) }),
    z.object({ type: z.literal("path"), path: entryPath }),
  ]),
  access: z.string().max(32),
  missing_path_behavior: z.string().max(32).nullish(),
});

export type SandboxEntryPath = z.infer<typeof sandboxEntry>["path"];

/** Codex's portable sandbox intent (FileSystemSandboxContext); the mapping is codex-sandbox.ts. */
export const SandboxContext = z.looseObject({
  permissions: z.looseObject({
    type: z.string().max(32),
    file_system: z
      .looseObject({ type: z.string().max(32), entries: z.array(sandboxEntry).max(1024).nullish() })
      .nullish(),
    network: z.string().max(32).nullish(),
  }),
  cwd: fileUrl.nullish(),
  workspaceRoots: z.array(fileUrl).max(256).nullish(),
  policyContext: z.looseObject({ cwd: fileUrl.nullish(), workspaceRoots: z.array(fileUrl).max(256).nullish() }).nullish(),
});
export type SandboxContext = z.infer<typeof SandboxContext>;

const sandbox = SandboxContext.nullish();

export const InitializeParams = z.object({
  clientName: z.string().max(256),
  resumeSessionId: z.string().max(256).nullish(),
});

export const StartParams = z.object({
  processId,
  argv: z.array(z.string()).min(1, "argv is empty: pass at least the program"),
  cwd: fileUrl,
  env: z.record(z.string(), z.string()),
  envPolicy: z
    .object({
      inherit: z.enum(["all", "core", "none"]),
      ignoreDefaultExcludes: z.boolean(),
      exclude: z.array(z.string().max(256)).max(256),
      set: z.record(z.string(), z.string()),
      includeOnly: z.array(z.string().max(256)).max(256),
    })
    .nullish(),
  tty: z.boolean(),
  pipeStdin: z.boolean().nullish(),
  arg0: z.string().nullish(),
  sandbox,
  enforceManagedNetwork: z.boolean().nullish(),
  managedNetwork: z.unknown().nullish(),
  metadata: z.looseObject({ threadId: z.string().max(256).nullish(), toolCallId: z.string().max(256).nullish() }).nullish(),
});
export type StartParams = z.infer<typeof StartParams>;

export const ReadParams = z.object({
  processId,
  afterSeq: z.number().int().min(0).nullish(),
  maxBytes: z.number().int().min(1).nullish(),
  waitMs: z.number().int().min(0).nullish(),
});

export const WriteParams = z.object({ processId, chunk: base64, writeId: z.string().max(128).nullish() });
export const SignalParams = z.object({ processId, signal: z.enum(["interrupt"]) });
export const TerminateParams = z.object({ processId });

export const PathParams = z.object({ path: fileUrl, sandbox });
export const WriteFileParams = z.object({ path: fileUrl, dataBase64: base64, sandbox });
export const CreateDirectoryParams = z.object({ path: fileUrl, recursive: z.boolean().nullish(), sandbox });
export const RemoveParams = z.object({ path: fileUrl, recursive: z.boolean().nullish(), force: z.boolean().nullish(), sandbox });
export const CopyParams = z.object({ sourcePath: fileUrl, destinationPath: fileUrl, recursive: z.boolean(), sandbox });
export const WatchMissingParams = z.object({
  watchId: z.number().int().min(0),
  missing: z.array(fileUrl).max(1024),
  present: z.union([fileUrl, z.array(fileUrl).max(1024)]).nullish(),
});
export const ConfigReadParams = z.looseObject({ cwd: fileUrl.nullish() });

export type OutputStreamName = "stdout" | "stderr" | "pty";

/** Notifications the server pushes; one seq per process covers output, exited and closed. */
export type Notification =
  | { method: "process/output"; params: { processId: string; seq: number; stream: OutputStreamName; chunk: string } }
  | { method: "process/exited"; params: { processId: string; seq: number; exitCode: number; sandboxDenied: boolean } }
  | { method: "process/closed"; params: { processId: string; seq: number } }
  | { method: "fs/missingChanged"; params: { watchId: number } };

export interface ReadResult {
  chunks: { seq: number; stream: OutputStreamName; chunk: string }[];
  nextSeq: number;
  exited: boolean;
  exitCode: number | null;
  closed: boolean;
  failure: string | null;
  sandboxDenied: boolean;
}

export interface MetadataResult {
  isDirectory: boolean;
  isFile: boolean;
  isSymlink: boolean;
  size: number;
  createdAtMs: number;
  modifiedAtMs: number;
}

export type WriteStatus = "accepted" | "unknownProcess" | "stdinClosed" | "starting";

/** Parses params against a schema, naming the bad field in a -32602 on failure. */
export function parseParams<S extends z.ZodType>(method: string, schema: S, params: unknown): z.infer<S> {
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length > 0 ? issue.path.join(".") : "params";
  throw new ParamsError(`${method}: ${where} ${issue.message}`);
}

/** Params that do not fit the method's schema (-32602), raised at the edge only. */
export class ParamsError extends Error {
  override readonly name = "ParamsError";
}

export function toFileUrl(path: string): string {
  return pathToFileURL(path).href;
}
