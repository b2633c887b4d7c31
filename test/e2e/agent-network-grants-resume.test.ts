// "Accept for the session" for a network host lasts as long as the thread's exec session, in
// the agent and in the exec layer alike: a real `tether exec-server` (Unix socket) whose proxy
// remembers allow_always per host:port for the session, and a real `tether agent-server` that
// is SIGKILLed and restarted. After the restart the agent reattaches to the same exec session
// and still holds the grant (from the rollout): the granted host is reached on another port
// without a prompt. When the exec server restarted too, the session is new and both forget:
// the host is asked about again.
import { readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../../clients/agent/agent-client.js";
import type { ThreadItem } from "../../services/agent-server/thread/thread-event.js";
import { type ThreadWatch, watchThread } from "../support/agent-harness.js";
import { AgentServerFixture } from "../support/agent-server-fixture.js";
import { type ExecServerProcess, VISIBLE_RUN_DIR, startExecServerProcess } from "../support/exec-server-process.js";
import { type ScriptStep, toolOutput } from "../support/responses-server.js";

// A GET through the proxy the sandbox names in HTTP_PROXY (no curl needed).
const FETCH = `proxy=\${HTTP_PROXY#http://}; proxy=\${proxy%/}
exec 3<>"/dev/tcp/\${proxy%:*}/\${proxy##*:}" || exit 7
printf 'GET http://%s/ HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' "$1" "$1" >&3
cat <&3
`;

function listen(): Promise<http.Server> {
  const server = http.createServer((q, s) => s.end(`reached ${q.headers.host}\n`));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("network session grants across an agent restart (real exec-server and agent-server processes)", () => {
  let fx: AgentServerFixture;
  let ports: number[];
  let sites: http.Server[] = [];
  let exec: ExecServerProcess | undefined;
  const fetch = (port: number, callId: string): ScriptStep => ({ type: "function_call", name: "exec_command", callId, arguments: { cmd: `bash fetch.sh 127.0.0.1:${port}`, login: false } });

  beforeAll(async () => {
    sites = [await listen(), await listen()];
    ports = sites.map((s) => (s.address() as AddressInfo).port);
    // Under the visible run dir: the exec server's sandbox hides /tmp.
    fx = await AgentServerFixture.create({
      parent: VISIBLE_RUN_DIR,
      prefix: "agent-net-grants-",
      script: [
        [fetch(ports[0]!, "g1")],
        [{ type: "message", text: "granted" }],
        // After the agent restart: the granted port (the exec layer remembers it) and another
        // port of the same host (only the agent's host-wide grant covers it).
        [fetch(ports[0]!, "g2"), fetch(ports[1]!, "g3")],
        [{ type: "message", text: "both reached" }],
        // After the exec server restarted too: a new session, asked again.
        [fetch(ports[0]!, "g4")],
        [{ type: "message", text: "asked again" }],
      ],
    });
    fx.closeAfterAgent(async () => exec?.close());
    await writeFile(path.join(fx.dir, "fetch.sh"), FETCH);
  });
  afterAll(async () => {
    await fx?.close();
    await Promise.all(sites.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A controller that answers every approval with `decision` (so an unexpected prompt fails the expectations, not the run). */
  const watch = (client: AgentClient, threadId: string, decision: "accept_for_session" | "decline") =>
    watchThread(client, threadId, {
      onEvent: (e) => {
        if (e.type === "item.started" && e.item.type === "approval") void client.respond(threadId, e.item.id, { type: decision }).catch(() => undefined);
      },
    });
  const approvals = (w: ThreadWatch) => w.completedItems("approval") as Extract<ThreadItem, { type: "approval" }>[];

  it("keeps an accepted-for-the-session host after a restart into the same exec session, and forgets it with a new one", async () => {
    const execSock = `unix://${fx.dir}/exec.sock`;
    exec = await startExecServerProcess({ listen: execSock });
    let client = await fx.start();
    const { threadId } = await client.startThread({ cwd: fx.dir, environment: execSock, model: "gpt-test", sandbox: "workspace-write", approvalPolicy: "on-request" });
    let w = await watch(client, threadId, "accept_for_session");
    await client.startTurn(threadId, { text: "fetch" });
    expect((await w.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[1]!, "g1")).toContain(`reached 127.0.0.1:${ports[0]}`);
    expect(approvals(w).map((a) => a.decision?.type)).toEqual(["accept_for_session"]);
    w.stop();

    client = await fx.restart();
    await client.resumeThread(threadId);
    w = await watch(client, threadId, "decline");
    await client.startTurn(threadId, { text: "fetch again" });
    expect((await w.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[3]!, "g2")).toContain(`reached 127.0.0.1:${ports[0]}`);
    expect(toolOutput(fx.model.received[3]!, "g3")).toContain(`reached 127.0.0.1:${ports[1]}`);
    expect(approvals(w)).toEqual([]);
    w.stop();

    // The exec server dies and comes back empty: the agent's grant ends with its session.
    fx.agent!.kill("SIGKILL");
    await fx.agent!.exited;
    exec.kill("SIGKILL");
    await exec.exited;
    await rm(path.join(fx.dir, "exec.sock"), { force: true });
    exec = await startExecServerProcess({ listen: execSock });
    client = await fx.start();
    await client.resumeThread(threadId);
    w = await watch(client, threadId, "decline");
    await client.startTurn(threadId, { text: "fetch once more" });
    expect((await w.turnEnd()).type).toBe("turn.completed");
    expect(approvals(w)).toMatchObject([{ request: { action: { kind: "network", host: "127.0.0.1", port: ports[0] } }, decision: { type: "decline" } }]);
    expect(toolOutput(fx.model.received[5]!, "g4")).toMatch(/HTTP\/1\.1 403/);
    w.stop();

    const records = (await readFile(path.join(fx.dir, "home", "sessions", `${threadId}.jsonl`), "utf8")).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { t: string });
    expect(records.filter((r) => r.t === "grant" || r.t === "grants_cleared").map((r) => r.t)).toEqual(["grant", "grants_cleared"]);
    fx.model.check();
  });
});
