// A raw client of Codex's exec-server protocol for tests: sends frames as Codex does (or
// broken ones), answers come back by id, notifications are queued and waited on by event.
import { WebSocket, type ClientOptions } from "ws";

export interface RpcAnswer {
  id: number | string | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

export interface PushedNotification {
  method: string;
  params: Record<string, unknown>;
}

export class CodexTestClient {
  readonly ws: WebSocket;
  readonly notifications: PushedNotification[] = [];
  /** Answers with no id of a pending request (id null or -1), in arrival order. */
  readonly stray: RpcAnswer[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 0;
  readonly #pending = new Map<number | string, (a: RpcAnswer) => void>();
  readonly #waiters = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as RpcAnswer & PushedNotification;
      if (typeof msg.method === "string") this.notifications.push(msg);
      else if (msg.id !== null && this.#pending.has(msg.id)) {
        this.#pending.get(msg.id)!(msg);
        this.#pending.delete(msg.id);
      } else this.stray.push(msg);
      for (const w of [...this.#waiters]) w();
    });
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<CodexTestClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return new CodexTestClient(ws);
  }

  /** initialize + initialized, as Codex opens every connection. */
  async initialize(resumeSessionId: string | null = null): Promise<RpcAnswer> {
    const answer = await this.request("initialize", { clientName: "codex-environment", resumeSessionId });
    this.ws.send(JSON.stringify({ method: "initialized", params: {} }));
    return answer;
  }

  request(method: string, params: unknown): Promise<RpcAnswer> {
    const id = ++this.#nextId;
    return this.sendRaw(JSON.stringify({ id, method, params }), id);
  }

  /** Sends any text; when `id` is given, resolves with the answer carrying it. */
  sendRaw(text: string | Buffer, id?: number | string): Promise<RpcAnswer> {
    const answered =
      id === undefined
        ? Promise.resolve({ id: null })
        : new Promise<RpcAnswer>((resolve, reject) => {
            this.#pending.set(id, resolve);
            void this.closed.then(({ code }) => {
              if (this.#pending.delete(id)) reject(new Error(`the connection closed (${code}) before request ${id} was answered`));
            });
          });
    this.ws.send(text);
    return answered;
  }

  /** Resolves once a notification matching `pred` arrived (already or later). */
  waitFor(pred: (n: PushedNotification) => boolean): Promise<PushedNotification> {
    return this.#until(() => this.notifications.find(pred));
  }

  waitForStray(count: number): Promise<RpcAnswer[]> {
    return this.#until(() => (this.stray.length >= count ? this.stray.slice(0, count) : undefined));
  }

  #until<T>(found: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = found();
        if (hit === undefined) return;
        this.#waiters.delete(check);
        resolve(hit);
      };
      this.#waiters.add(check);
      check();
      void this.closed.then(() => {
        if (this.#waiters.delete(check)) reject(new Error("the connection closed while waiting"));
      });
    });
  }

  /** Output of one process as text, from the pushed notifications so far. */
  output(processId: string): string {
    return this.notifications
      .filter((n) => n.method === "process/output" && n.params.processId === processId)
      .map((n) => Buffer.from(n.params.chunk as string, "base64").toString())
      .join("");
  }

  /** Drops the TCP connection without a Close frame, as `codex exec` does when it ends. */
  drop(): void {
    this.ws.terminate();
  }

  async close(code = 1000): Promise<void> {
    this.ws.close(code);
    await this.closed;
  }
}
