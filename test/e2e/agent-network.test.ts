// Execpolicy network rules and network approvals in real turns, on every backend: the model's
// command fetches from a real HTTP server on the exec server's loopback through the sandbox's
// managed proxy (HTTP_PROXY, a forwarded GET; no curl needed). Hosts a network_rule allows or
// denies are decided by the proxy; any other host is asked of the agent, which answers through
// its approval gate: an approval item on the thread's stream, or the approval policy's refusal.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import type { ApprovalDecision, ApprovalPolicy, ApprovalRequest } from "../../services/agent-server/policy/approval-types.js";
import type { ThreadItem } from "../../services/agent-server/thread/thread-event.js";
import { OutputReader, forEachBackend, newId } from "../conformance/conformance-kit.js";
import { type ThreadWatch, agentCoreFor, rulesFile, watchThread } from "../support/agent-harness.js";
import { type ResponsesServer, type ScriptResponse, startResponsesServer, toolOutput } from "../support/responses-server.js";

/** Loopback addresses the HTTP server listens on, one per case (Linux routes all of 127/8 to lo). */
const HOSTS = { allowed: "127.0.0.2", denied: "127.0.0.3", accepted: "127.0.0.4", session: "127.0.0.5", declined: "127.0.0.6", never: "127.0.0.7" } as const;
const RULES = `network_rule(host="${HOSTS.allowed}", decision="allow")\nnetwork_rule(host="${HOSTS.denied}", decision="deny", justification="no test traffic")\n`;

// One port on every address: listen on the first, then the same port on the rest.
const SERVER = `const http = require("http");
const hosts = ${JSON.stringify(Object.values(HOSTS))};
const serve = (host, port, done) => http.createServer((q, s) => s.end("reached " + q.headers.host + "\\n")).listen(port, host, function () { done(this.address().port); });
serve(hosts[0], 0, (port) => { let left = hosts.length - 1; for (const h of hosts.slice(1)) serve(h, port, () => { if (--left === 0) console.log("port=" + port); }); });`;

// What the model runs: a GET through the proxy the sandbox names in HTTP_PROXY.
const FETCH = `proxy=\${HTTP_PROXY#http://}; proxy=\${proxy%/}
exec 3<>"/dev/tcp/\${proxy%:*}/\${proxy##*:}" || exit 7
printf 'GET http://%s/ HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' "$1" "$1" >&3
cat <&3
`;

forEachBackend("agent network rules and approvals", (ctx) => {
  let listener: string;
  let port: string;
  let home: string;
  let client: InProcessAgentClient | undefined;
  let server: ResponsesServer | undefined;
  let watch: ThreadWatch | undefined;

  beforeAll(async () => {
    listener = newId("http");
    await ctx.env.processes.start(listener, { argv: ["node", "-e", SERVER] });
    const reader = new OutputReader(ctx.env.processes.attach(listener));
    port = /port=(\d+)/.exec(await reader.until(/port=\d+\n/))![1]!;
    await ctx.env.files.writeFile({ path: `${ctx.dir}/fetch.sh` }, new TextEncoder().encode(FETCH));
  });
  afterAll(async () => {
    await ctx.env.processes.terminate(listener);
  });
  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), "tether-agent-net-"));
    await mkdir(path.dirname(rulesFile(home)), { recursive: true });
    await writeFile(rulesFile(home), RULES);
  });
  afterEach(async () => {
    watch?.stop();
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
    await rm(home, { recursive: true, force: true });
  });

  const target = (host: string) => `${host}:${port}`;
  const fetchCall = (host: string, callId: string) => ({ type: "function_call" as const, name: "exec_command", callId, arguments: { cmd: `bash fetch.sh ${target(host)}`, login: false } });

  /** An agent on this backend with the real tools and rules, a workspace-write thread, and its watched stream. */
  async function startThread(approvalPolicy: ApprovalPolicy, script: ScriptResponse[]) {
    server = await startResponsesServer({ script });
    const core = await agentCoreFor({ tetherHome: home, modelUrl: server.url, openEnvironment: () => ctx.openSession({}) });
    client = new InProcessAgentClient(core, { ownsCore: true });
    const thread = await client.startThread({ cwd: ctx.dir, environment: ctx.backend.name, model: "m", sandbox: "workspace-write", approvalPolicy });
    watch = await watchThread(client, thread.threadId);
    return { threadId: thread.threadId, watch };
  }

  async function turn(threadId: string, w: ThreadWatch): Promise<void> {
    await client!.startTurn(threadId, { text: newId("fetch") });
    expect((await w.turnEnd()).type).toBe("turn.completed");
  }

  /** Waits for the thread's (one) approval request on its stream and answers it. */
  async function answerNext(threadId: string, w: ThreadWatch, decision: ApprovalDecision): Promise<ApprovalRequest> {
    const started = await w.until((e) => e.type === "item.started" && e.item.type === "approval");
    if (started.type !== "item.started" || started.item.type !== "approval") throw new Error("not an approval");
    await client!.respond(threadId, started.item.request.requestId, decision);
    return started.item.request;
  }

  const approvals = (w: ThreadWatch) => w.completedItems("approval") as Extract<ThreadItem, { type: "approval" }>[];
  const output = (requestIndex: number, callId: string) => toolOutput(server!.received[requestIndex]!, callId);

  it("a host a network_rule allows is reached through the proxy without a prompt", async () => {
    const t = await startThread("on-request", [[fetchCall(HOSTS.allowed, "a1")], [{ type: "message", text: "done" }]]);
    await turn(t.threadId, t.watch);
    expect(output(1, "a1")).toMatch(new RegExp(`HTTP/1\\.1 200[^]*reached ${target(HOSTS.allowed).replace(/\./g, "\\.")}`));
    expect(approvals(t.watch)).toEqual([]);
  });

  it("a host a network_rule denies is refused by the proxy unasked, and the tool output says the sandbox refused it", async () => {
    const t = await startThread("on-request", [[fetchCall(HOSTS.denied, "b1")], [{ type: "message", text: "done" }]]);
    await turn(t.threadId, t.watch);
    const out = output(1, "b1");
    expect(out).toMatch(/HTTP\/1\.1 403/);
    expect(out).toContain(`The sandbox refused: network: ${target(HOSTS.denied)} (denied by rule`);
    expect(out).not.toContain("reached");
    expect(approvals(t.watch)).toEqual([]);
  });

  it("an unknown host becomes a network approval on the thread's stream; accepted, the command reaches it", async () => {
    const t = await startThread("on-request", [[fetchCall(HOSTS.accepted, "c1")], [{ type: "message", text: "done" }]]);
    await client!.startTurn(t.threadId, { text: newId("fetch") });
    const request = await answerNext(t.threadId, t.watch, { type: "accept" });
    expect(request).toMatchObject({ callId: "c1", action: { kind: "network", host: HOSTS.accepted, port: Number(port) }, promptKind: "sandbox_approval" });
    expect(request.availableDecisions).toContain("accept_with_rule");
    expect((await t.watch.turnEnd()).type).toBe("turn.completed");
    expect(output(1, "c1")).toContain(`reached ${target(HOSTS.accepted)}`);
    expect(approvals(t.watch).map((a) => [a.decision?.type, a.decidedBy])).toEqual([["accept", "user"]]);
    // The decision is in the thread's rollout, like every approval.
    const rollout = (await readFile(path.join(home, "sessions", `${t.threadId}.jsonl`), "utf8")).split("\n").filter((l) => l !== "");
    const recorded = rollout.map((l) => JSON.parse(l) as { t: string; item?: ThreadItem }).filter((r) => r.t === "item" && r.item?.type === "approval");
    expect(recorded.map((r) => r.item)).toMatchObject([{ request: { action: { kind: "network", host: HOSTS.accepted } }, decision: { type: "accept" }, decidedBy: "user" }]);
  });

  it("accepted for the session, the host is reached again in a later turn without a prompt", async () => {
    const t = await startThread("on-request", [[fetchCall(HOSTS.session, "d1")], [{ type: "message", text: "first" }], [fetchCall(HOSTS.session, "d2")], [{ type: "message", text: "second" }]]);
    await client!.startTurn(t.threadId, { text: newId("fetch") });
    await answerNext(t.threadId, t.watch, { type: "accept_for_session" });
    expect((await t.watch.turnEnd()).type).toBe("turn.completed");
    await turn(t.threadId, t.watch);
    expect(output(1, "d1")).toContain(`reached ${target(HOSTS.session)}`);
    expect(output(3, "d2")).toContain(`reached ${target(HOSTS.session)}`);
    expect(approvals(t.watch).map((a) => a.decision?.type)).toEqual(["accept_for_session"]);
  });

  it("declined, the unknown host is refused and the tool output says the sandbox refused it", async () => {
    const t = await startThread("on-request", [[fetchCall(HOSTS.declined, "e1")], [{ type: "message", text: "done" }]]);
    await client!.startTurn(t.threadId, { text: newId("fetch") });
    await answerNext(t.threadId, t.watch, { type: "decline", reason: "not that host" });
    expect((await t.watch.turnEnd()).type).toBe("turn.completed");
    const out = output(1, "e1");
    expect(out).toMatch(/HTTP\/1\.1 403/);
    expect(out).toContain(`The sandbox refused: network: ${target(HOSTS.declined)} (not that host)`);
    expect(approvals(t.watch).map((a) => [a.decision?.type, a.decidedBy])).toEqual([["decline", "user"]]);
  });

  it("under approval policy never, an unknown host is refused without a prompt", async () => {
    const t = await startThread("never", [[fetchCall(HOSTS.never, "f1")], [{ type: "message", text: "done" }]]);
    await turn(t.threadId, t.watch);
    const out = output(1, "f1");
    expect(out).toMatch(/HTTP\/1\.1 403/);
    expect(out).toMatch(/The sandbox refused: network: 127\.0\.0\.7:\d+ \(.*approval policy is "never"/);
    expect(approvals(t.watch)).toEqual([]);
    expect(t.watch.events.some((e) => e.type === "item.started" && e.item.type === "approval")).toBe(false);
  });

  // A background process (exec_command that yielded, waiting on its stdin) fetches only once
  // a later call writes to it: the proxy's question comes from the first call's process while
  // the second call is the turn's most recent one.
  const backgroundFetch = (callId: string) => ({ type: "function_call" as const, name: "exec_command", callId, arguments: { cmd: `read -r _; bash fetch.sh ${target(HOSTS.accepted)}`, tty: true, login: false, yield_time_ms: 250 } });
  const release = (callId: string) => ({ type: "function_call" as const, name: "write_stdin", callId, arguments: { session_id: 1000, chars: "go\n", yield_time_ms: 30_000 } });

  it("a network request from a background process is filed under the call that started it, not the turn's latest call", async () => {
    const t = await startThread("on-request", [[backgroundFetch("h1")], [release("h2")], [{ type: "message", text: "done" }]]);
    await client!.startTurn(t.threadId, { text: newId("fetch") });
    const request = await answerNext(t.threadId, t.watch, { type: "accept" });
    expect((await t.watch.turnEnd()).type).toBe("turn.completed");
    expect(request).toMatchObject({ callId: "h1", command: `read -r _; bash fetch.sh ${target(HOSTS.accepted)}`, action: { kind: "network", host: HOSTS.accepted } });
    expect(request.reason).not.toContain("earlier turn");
    expect(output(2, "h2")).toContain(`reached ${target(HOSTS.accepted)}`);
  });

  it("a network request from a process whose turn ended is asked in the running turn, naming its command and call", async () => {
    const t = await startThread("on-request", [[backgroundFetch("i1")], [{ type: "message", text: "started" }], [release("i2")], [{ type: "message", text: "done" }]]);
    await turn(t.threadId, t.watch);
    const { turnId } = await client!.startTurn(t.threadId, { text: newId("fetch") });
    const started = await t.watch.until((e) => e.type === "item.started" && e.item.type === "approval");
    expect(started.type === "item.started" && started.turnId).toBe(turnId);
    const request = await answerNext(t.threadId, t.watch, { type: "accept" });
    expect(request).toMatchObject({ turnId, callId: "i1", command: `read -r _; bash fetch.sh ${target(HOSTS.accepted)}`, action: { kind: "network", host: HOSTS.accepted } });
    expect(request.reason).toContain(`(asked by \`read -r _; bash fetch.sh ${target(HOSTS.accepted)}\`, still running from an earlier turn)`);
    expect((await t.watch.turnEnd()).type).toBe("turn.completed");
    expect(output(3, "i2")).toContain(`reached ${target(HOSTS.accepted)}`);
  });

  it("accepted with a rule, network_rule(host=…) lands in default.rules", async () => {
    const t = await startThread("on-request", [[fetchCall(HOSTS.accepted, "g1")], [{ type: "message", text: "done" }]]);
    await client!.startTurn(t.threadId, { text: newId("fetch") });
    await answerNext(t.threadId, t.watch, { type: "accept_with_rule" });
    expect((await t.watch.turnEnd()).type).toBe("turn.completed");
    expect(output(1, "g1")).toContain(`reached ${target(HOSTS.accepted)}`);
    expect(await readFile(rulesFile(home), "utf8")).toBe(`${RULES}network_rule(host="${HOSTS.accepted}", protocol="http", decision="allow")\n`);
  });
});
