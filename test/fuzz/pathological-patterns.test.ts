// Patterns and sizes chosen to hurt: globs that make a backtracking matcher explode, and
// every client-supplied list or string at and past its cap. Against `tether exec-server`
// as its own process, so a held event loop shows as another client's call not finishing
// (a held loop in-process would freeze the test's own clients too).
import fc from "fast-check";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileAccess, SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { MAX_GLOB_LENGTH, PATH_MAX } from "../../services/common/glob-matcher.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { SANDBOX_LIMITS } from "../../services/exec-server/sandbox/sandbox-policy.js";
import { failure } from "../support/failure.js";
import { fuzzClients } from "../support/fuzz-server.js";
import { type ServerProcess, startServerProcess } from "../support/load-server-process.js";

/** The rule stretched to the cap: each `**a` more tripled a RegExp's work. */
const PATHOLOGICAL = `/${"**a".repeat(Math.floor((MAX_GLOB_LENGTH - 4) / 3))}**ab`;
/** A legitimate call answers in milliseconds; this only turns a held server into a failure. */
const CALL_DEADLINE_MS = 60_000;

describe("exec server under pathological patterns", () => {
  let server: ServerProcess;
  let clients: ReturnType<typeof fuzzClients>;
  let died: string | undefined;

  beforeAll(async () => {
    server = await startServerProcess({ args: ["--sandbox", "read-only"] });
    void server.exited.then((e) => (died = `exec server exited ${JSON.stringify(e)}; stderr: ${server.stderr()}`));
    clients = fuzzClients(server.url);
  });

  afterAll(async () => {
    clients?.raw.close();
    await server?.stop();
  });

  async function openSession(id: string, fileRules: { pattern: string; access: FileAccess }[]) {
    return clients.session.openSession(
      { sessionId: id, defaultSandbox: { mode: SandboxMode.READ_ONLY, fileRules } },
      { timeoutMs: CALL_DEADLINE_MS },
    );
  }

  it("keeps running another client's commands while one client stats long paths against the worst globs", async () => {
    const rules = Array.from({ length: SANDBOX_LIMITS.globFileRules }, () => ({ pattern: PATHOLOGICAL, access: FileAccess.NONE }));
    await openSession("pathological", rules);
    // Names of 199 characters (NAME_MAX is 255), the whole path just under PATH_MAX.
    const longA = longPath("a".repeat(199) + "/", PATH_MAX - 2); // matches no rule: read-only lets Stat look (it is missing)
    const longAB = `${longPath("a".repeat(199) + "/", PATH_MAX - 3)}b`; // matches every rule: hidden
    const attacker = (async () => {
      const answers: string[] = [];
      for (let wave = 0; wave < 25; wave++) {
        const calls = [longA, longAB, longA, longAB].map((path) =>
          failure(clients.files.stat({ path, sessionId: "pathological" }, { timeoutMs: CALL_DEADLINE_MS })),
        );
        for (const err of await Promise.all(calls)) answers.push(ErrorCode[err.code]);
      }
      return answers;
    })();
    // The other client: whole commands, one after another, while the attacker keeps going.
    const exits: number[] = [];
    for (let i = 0; i < 10; i++) {
      const processId = `bystander-${i}`;
      await clients.process.start({ processId, spec: { argv: ["true"], sandbox: { mode: SandboxMode.FULL_ACCESS } } }, { timeoutMs: CALL_DEADLINE_MS });
      const { status } = await clients.process.wait({ processId }, { timeoutMs: CALL_DEADLINE_MS });
      exits.push(status?.code ?? -1);
    }
    expect(exits).toEqual(Array(10).fill(0));
    const answers = await attacker;
    expect(new Set(answers)).toEqual(new Set(["NotFound", "PermissionDenied"]));
    expect(answers).toHaveLength(100);
    expect(died).toBeUndefined();
  });

  it("expands a pathological glob rule over real files within its step budget or refuses it by name", async () => {
    const dir = join(server.socketPath, "..", "glob-tree");
    await mkdir(join(dir, "a".repeat(200)), { recursive: true });
    for (let i = 0; i < 50; i++) await writeFile(join(dir, "a".repeat(200), `${"a".repeat(200)}${i}`), "x");
    const rule = `${dir}/${PATHOLOGICAL.slice(1)}`;
    const res = await clients.process
      .start(
        { processId: "glob-expansion", spec: { argv: ["true"], sandbox: { mode: SandboxMode.READ_ONLY, fileRules: [{ pattern: rule, access: FileAccess.NONE }] } } },
        { timeoutMs: CALL_DEADLINE_MS },
      )
      .then(
        () => "started",
        (err: unknown) => (err instanceof TetherError ? ErrorCode[err.code] : `untyped: ${String(err)}`),
      );
    const info = await clients.environment.getInfo({}, { timeoutMs: CALL_DEADLINE_MS });
    // Without bwrap the sandbox cannot be built at all: FAILED_PRECONDITION, never a hang or INTERNAL.
    expect(res).toBe(info.capabilities.includes(Capability.SANDBOX_BWRAP) ? "started" : "FailedPrecondition");
  });

  it("starts a command under 256 env excludes that each make a backtracking matcher explode", async () => {
    // 127 stars-and-a's per glob against the server's variable names: a RegExp would try
    // every split; the matcher walks each name once per glob.
    const exclude = Array.from({ length: 256 }, (_, i) => `${"*a".repeat(127)}${i % 2 === 0 ? "b" : "*"}`);
    await clients.process.start(
      { processId: "env-globs", spec: { argv: ["sh", "-c", "echo ok"], envPolicy: { exclude }, sandbox: { mode: SandboxMode.FULL_ACCESS } } },
      { timeoutMs: CALL_DEADLINE_MS },
    );
    expect((await clients.process.wait({ processId: "env-globs" }, { timeoutMs: CALL_DEADLINE_MS })).status?.code).toBe(0);
    expect(died).toBeUndefined();
  });

  it("answers file calls under a policy of the most deep missing paths it takes, and refuses more", async () => {
    // Every file call resolves every root and rule (symlinks of the longest existing prefix):
    // by binary search, not one thrown realpath per missing level, and at most 64 KiB of them.
    const deep = (i: number) => `/nonexistent-${i}${"/m".repeat(2000)}`;
    const policy = (roots: number, rules: number) => ({
      mode: SandboxMode.WORKSPACE_WRITE,
      writableRoots: Array.from({ length: roots }, (_, i) => deep(i)),
      fileRules: Array.from({ length: rules }, (_, i) => ({ pattern: deep(1000 + i), access: FileAccess.NONE })),
    });
    const refused = await failure(clients.session.openSession({ sessionId: "too-deep", defaultSandbox: policy(8, 9) }, { timeoutMs: CALL_DEADLINE_MS }));
    expect(ErrorCode[refused.code]).toBe("InvalidArgument");
    expect(refused.message).toMatch(/MAX_POLICY_PATH_BYTES/);
    await clients.session.openSession({ sessionId: "deep-rules", defaultSandbox: policy(5, 10) }, { timeoutMs: CALL_DEADLINE_MS });
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) {
      answers.push(ErrorCode[(await failure(clients.files.stat({ path: `${deep(1000 + i)}/x`, sessionId: "deep-rules" }, { timeoutMs: CALL_DEADLINE_MS }))).code]);
    }
    expect(answers).toEqual(Array(10).fill("PermissionDenied"));
    expect(died).toBeUndefined();
  });

  it("lists a directory chain 300 levels deep with depth 2^32-1 (no recursion per level)", async () => {
    const root = join(server.socketPath, "..", "deep");
    let dir = root;
    for (let i = 0; i < 300; i++) dir = join(dir, "d");
    await mkdir(dir, { recursive: true });
    let entries = 0;
    for await (const batch of clients.files.readDir({ path: root, depth: 0xffff_ffff }, { timeoutMs: CALL_DEADLINE_MS })) entries += batch.entries.length;
    expect(entries).toBe(300);
  });

  it("refuses every list and string past its cap with INVALID_ARGUMENT naming the limit", async () => {
    const invalid = async (p: Promise<unknown>, limit: RegExp) => {
      const err = await failure(p);
      expect(ErrorCode[err.code]).toBe("InvalidArgument");
      expect(err.message).toMatch(limit);
    };
    const opts = { timeoutMs: CALL_DEADLINE_MS };
    const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
    await invalid(openSession("too-many-globs", many(SANDBOX_LIMITS.globFileRules + 1, (i) => ({ pattern: `/g${i}/*`, access: FileAccess.NONE }))), /MAX_GLOB_FILE_RULES/);
    await invalid(
      clients.session.setSandbox(
        { sessionId: (await openSession("caps", [])).sessionId, defaultSandbox: { mode: SandboxMode.READ_ONLY, fileRules: many(SANDBOX_LIMITS.globFileRules + 1, (i) => ({ pattern: `/g${i}/*`, access: FileAccess.NONE })) } },
        opts,
      ),
      /MAX_GLOB_FILE_RULES/,
    );
    await invalid(openSession("too-long-glob", [{ pattern: `/w/${"*".repeat(MAX_GLOB_LENGTH + 1)}`, access: FileAccess.NONE }]), /MAX_GLOB_LENGTH/);
    await invalid(
      clients.process.start({ processId: "env-glob", spec: { argv: ["true"], envPolicy: { exclude: ["*".repeat(MAX_GLOB_LENGTH + 1)] } } }, opts),
      /MAX_GLOB_LENGTH/,
    );
    await invalid(
      clients.process.start({ processId: "labels", spec: { argv: ["true"], labels: Object.fromEntries(many(65, (i) => `k${i}`).map((k) => [k, "v"])) } }, opts),
      /MAX_LABELS/,
    );
    await invalid(clients.session.openSession({ labels: Object.fromEntries(many(65, (i) => `k${i}`).map((k) => [k, "v"])) }, opts), /MAX_LABELS/);
    await invalid(clients.process.list({ labels: Object.fromEntries(many(65, (i) => `k${i}`).map((k) => [k, "v"])) }, opts), /MAX_LABELS/);
    await invalid(clients.files.stat({ path: `/${"p".repeat(PATH_MAX)}` }, opts), /PATH_MAX/);
    await invalid(failureOfStream(clients.files.watch({ paths: many(257, () => "/tmp") }, opts)), /MAX_WATCH_PATHS/);
    await invalid(
      clients.session.decide({ sessionId: "pathological", escalationId: "x", reason: "r".repeat(5000) }, opts),
      /reason is 5000 characters; the limit is 4096/,
    );
    expect(died).toBeUndefined();
  });

  it("answers random globs up to the caps against random long paths with a typed status", async () => {
    const glob = fc
      .array(fc.constantFrom("a", "b", "*", "**", "**/", "?", "/"), { minLength: 1, maxLength: MAX_GLOB_LENGTH })
      .map((parts) => `/${parts.join("")}`.slice(0, MAX_GLOB_LENGTH));
    const path = fc
      .tuple(fc.integer({ min: 1, max: PATH_MAX - 2 }), fc.constantFrom(`${"a".repeat(199)}/`, `${"a".repeat(120)}b/`, `${"ab".repeat(20)}/`, "ab/"))
      .map(([n, unit]) => longPath(unit, n));
    let n = 0;
    const untyped: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(glob, { minLength: 1, maxLength: 8 }), fc.array(path, { minLength: 1, maxLength: 4 }), async (globs, paths) => {
        const id = `random-${n++}`;
        const opened = await openSession(id, globs.map((pattern) => ({ pattern, access: FileAccess.NONE }))).then(
          () => "ok",
          (err: unknown) => (err instanceof TetherError ? ErrorCode[err.code] : `untyped ${String(err)}`),
        );
        if (opened !== "ok") {
          // Random globs may hold `.` or `..` segments the policy refuses by name.
          if (opened !== "InvalidArgument") untyped.push(`OpenSession -> ${opened}`);
          return;
        }
        for (const p of paths) {
          const got = await clients.files.stat({ path: p, sessionId: id }, { timeoutMs: CALL_DEADLINE_MS }).then(
            () => "OK",
            (err: unknown) => (err instanceof TetherError ? ErrorCode[err.code] : `untyped ${String(err)}`),
          );
          if (!["OK", "NotFound", "PermissionDenied"].includes(got)) untyped.push(`Stat ${p.slice(0, 40)}… -> ${got}`);
        }
        await clients.session.closeSession({ sessionId: id }, { timeoutMs: CALL_DEADLINE_MS });
      }),
      { numRuns: 20 },
    );
    expect(untyped).toEqual([]);
    expect(n).toBe(20);
    expect(died).toBeUndefined();
    // Deep random paths cost the server one realpath per level (not matching): room for a loaded CI.
  }, 180_000);
});

/** `/` + `unit` repeated, cut to `length` characters. */
function longPath(unit: string, length: number): string {
  return `/${unit.repeat(Math.ceil(length / unit.length)).slice(0, length - 1)}`;
}

/** A server stream's first error (a refused Watch fails before its first message). */
async function failureOfStream(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // An accepted Watch would yield `ready`: the test expects a refusal instead.
    throw new Error("the stream was accepted");
  }
}
