// The set-up of the agent-server e2e suites: a temp dir, a scripted Responses server, the env
// that points a real `tether agent-server` at it, and that server on `dir/agent.sock` with the
// gRPC clients connected to it. close() takes them down, clients first, the dir last.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { GrpcAgentClient } from "../../clients/agent/grpc-agent-client.js";
import { type AgentServerProcess, startAgentServerProcess } from "./agent-server-process.js";
import { type ResponsesServer, type ScriptStep, startResponsesServer } from "./responses-server.js";

export class AgentServerFixture {
  readonly dir: string;
  readonly model: ResponsesServer;
  /** TETHER_HOME in `dir`, the model's URL and key: what every agent server started here gets. */
  readonly env: NodeJS.ProcessEnv;
  /** The running agent server, if any (tests may kill or close it themselves). */
  agent: AgentServerProcess | undefined;
  readonly #clients: GrpcAgentClient[] = [];
  readonly #afterAgent: Array<() => Promise<unknown>> = [];

  private constructor(dir: string, model: ResponsesServer) {
    this.dir = dir;
    this.model = model;
    this.env = { ...process.env, TETHER_HOME: path.join(dir, "home"), OPENAI_BASE_URL: model.url, OPENAI_API_KEY: "test-key", TETHER_LOG: "warn" };
  }

  /** `parent`: where the temp dir goes (an exec server's sandbox hides /tmp: VISIBLE_RUN_DIR). */
  static async create(options: { parent: string; prefix: string; script: ScriptStep[][] }): Promise<AgentServerFixture> {
    await mkdir(options.parent, { recursive: true });
    const dir = await mkdtemp(path.join(options.parent, options.prefix));
    try {
      return new AgentServerFixture(dir, await startResponsesServer({ script: options.script }));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get listen(): string {
    return `unix://${this.dir}/agent.sock`;
  }

  /** Starts an agent server on `listen` (the previous one must be gone) and connects a client. */
  async start(): Promise<GrpcAgentClient> {
    this.agent = await startAgentServerProcess({ listen: this.listen, env: this.env });
    return this.connect();
  }

  /** A client of the running agent server, closed with the fixture. */
  async connect(): Promise<GrpcAgentClient> {
    const client = await GrpcAgentClient.connect(this.agent!.url);
    this.#clients.push(client);
    return client;
  }

  /** SIGKILLs the agent server, checks it died of it, and starts a new one. */
  async restart(): Promise<GrpcAgentClient> {
    this.agent!.kill("SIGKILL");
    expect((await this.agent!.exited).signal).toBe("SIGKILL");
    return this.start();
  }

  /** Runs `close` once the agent server is down and before the dir goes (e.g. an exec server on a socket in it). */
  closeAfterAgent(close: () => Promise<unknown>): void {
    this.#afterAgent.push(close);
  }

  async close(): Promise<void> {
    for (const client of this.#clients.splice(0)) await client.close();
    await this.agent?.close();
    for (const close of this.#afterAgent.splice(0)) await close();
    await this.model.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
