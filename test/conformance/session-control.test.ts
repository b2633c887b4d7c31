// What a session's controller can do on every backend (issue 15, the exec layer for the
// agent): events for decisions made elsewhere and elicitation changes, an escalation the
// server timed out closing its prompt (the handler's signal), a sandbox widened for later
// calls, the network proxy asking about hosts no rule names, and sandbox_denied in ExitStatus.
import { expect, it } from "vitest";
import { ShellMode } from "../../gen/tether/exec/v1/process_pb.js";
import { FileAccess, NetworkMode, SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import type { NetworkRequest } from "../../gen/tether/exec/v1/session_pb.js";
import type { Environment, NetworkDecisionResult, SessionEvent } from "../../clients/environment/environment.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { OutputReader, failure, forEachBackend, newId, run } from "./conformance-kit.js";

/** Resolves with the first session event `test` accepts. */
function nextEvent(env: Environment, test: (e: SessionEvent) => boolean): Promise<SessionEvent> {
  return new Promise((resolve) => {
    const sub = env.session.onEvent((e) => {
      if (!test(e)) return;
      sub[Symbol.dispose]();
      resolve(e);
    });
  });
}

forEachBackend("session control", (ctx) => {
  const readOnly = () => ({ mode: SandboxMode.READ_ONLY, fileRules: [{ pattern: ctx.dir, access: FileAccess.READ }] });

  it("reports elicitation changes as events", async () => {
    const up = nextEvent(ctx.env, (e) => e.type === "elicitation" && e.count === 1);
    expect(await ctx.env.session.incrementElicitation()).toBe(1);
    await up;
    const down = nextEvent(ctx.env, (e) => e.type === "elicitation" && e.count === 0);
    expect(await ctx.env.session.decrementElicitation()).toBe(0);
    await down;
  });

  it("aborts an escalation handler the server already decided (its timeout) and reports the resolution", async () => {
    const env = await ctx.openSession({ decisionTimeoutMs: 300 });
    const aborted: string[] = [];
    const resolved = nextEvent(env, (e) => e.type === "escalation_resolved");
    const control = await env.session.handleEscalations(
      (_req, signal) =>
        new Promise((resolve) => {
          // An approval prompt that nobody answers: it must be told to close.
          signal.addEventListener("abort", () => {
            aborted.push(String((signal.reason as Error).message));
            resolve({ decision: "run" });
          });
        }),
    );
    try {
      const r = await run(env, { argv: ["/bin/echo hi; echo status=$?"], shell: ShellMode.ZSH_FORK, cwd: ctx.dir });
      expect(r.stdout).toBe("status=126\n");
      const e = await resolved;
      expect(e).toMatchObject({ type: "escalation_resolved", decision: "deny" });
      expect(e.type === "escalation_resolved" && e.reason).toMatch(/no decision within 300 ms/);
      expect(aborted).toHaveLength(1);
      expect(aborted[0]).toMatch(/already decided deny/);
    } finally {
      control[Symbol.dispose]();
    }
  });

  it("setSandbox widens the session's default for later processes; the refused write said sandbox_denied", async () => {
    const env = await ctx.openSession({ defaultSandbox: readOnly() });
    const write = { argv: ["sh", "-c", `echo x > '${ctx.dir}/widened-${newId()}.txt'`], cwd: ctx.dir };
    const refused = await run(env, write);
    expect(refused.exit.code).not.toBe(0);
    expect(refused.exit.sandboxDenied).toBe(true);
    expect(refused.exit.sandboxDenial).toMatch(/^file system: (Read-only file system|Permission denied)/);
    await env.session.setSandbox({ mode: SandboxMode.WORKSPACE_WRITE, writableRoots: [ctx.dir] });
    const allowed = await run(env, write);
    expect(allowed.exit.code).toBe(0);
    expect(allowed.exit.sandboxDenied).toBe(false);
    expect((await failure(env.session.setSandbox({ mode: SandboxMode.READ_ONLY, network: { mode: NetworkMode.OFF, allowHosts: ["x.example"] } }))).code).toBe(
      ErrorCode.InvalidArgument,
    );
  });

  it("the network proxy asks the controller about a host no rule names: deny, allow once, allow always", async () => {
    const listener = newId("listener");
    await ctx.env.processes.start(listener, {
      argv: ["node", "-e", "require('net').createServer((s) => s.end('hi\\n')).listen(0, '127.0.0.1', function () { console.log('port=' + this.address().port) })"],
    });
    const reader = new OutputReader(ctx.env.processes.attach(listener));
    const port = /port=(\d+)/.exec(await reader.until(/port=\d+\n/))![1]!;
    const asked: NetworkRequest[] = [];
    let answer: NetworkDecisionResult = { decision: "deny", reason: "not today" };
    const control = await ctx.env.session.handleNetworkRequests(async (req) => {
      asked.push(req);
      return answer;
    });
    // CONNECT through the sandbox's relay (HTTPS_PROXY) by hand: no curl needed in the image.
    const connect = {
      argv: ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'CONNECT 127.0.0.1:${port} HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\n\\r\\n' >&3 && cat <&3`],
      cwd: ctx.dir,
      sandbox: { ...readOnly(), network: { mode: NetworkMode.PROXY, askController: true } },
    };
    try {
      const resolvedDeny = nextEvent(ctx.env, (e) => e.type === "network_resolved" && e.decision === "deny");
      const denied = await run(ctx.env, connect);
      expect(denied.stdout).toMatch(/^HTTP\/1\.1 403/);
      expect(denied.stdout).toContain("not today");
      expect(denied.exit.sandboxDenied).toBe(true);
      expect(denied.exit.sandboxDenial).toBe(`network: 127.0.0.1:${port} (not today)`);
      expect(asked.map((r) => [r.host, r.port, r.protocol])).toEqual([["127.0.0.1", Number(port), "https"]]);
      await resolvedDeny;

      answer = { decision: "allow_once" };
      const once = await run(ctx.env, connect);
      expect(once.stdout).toMatch(/^HTTP\/1\.1 200[^]*\r\n\r\nhi\n$/);
      expect(once.exit.sandboxDenied).toBe(false);
      answer = { decision: "allow_always" };
      expect((await run(ctx.env, connect)).stdout).toMatch(/hi\n$/);
      expect(asked).toHaveLength(3);
      answer = { decision: "deny", reason: "asked again" };
      expect((await run(ctx.env, connect)).stdout).toMatch(/hi\n$/);
      expect(asked).toHaveLength(3);
    } finally {
      control[Symbol.dispose]();
      await ctx.env.processes.terminate(listener);
    }
  });
});
