// A sandbox that cannot be built fails the Start with FAILED_PRECONDITION and nothing runs,
// end to end through `tether exec-server`: here bwrap is installed but cannot build
// namespaces (a wrapper first on the server's PATH answers --version and fails every
// sandbox the way a kernel without user namespaces makes the real one fail).
import { chmod, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability } from "../../gen/tether/exec/v1/environment_pb.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { failure } from "../support/failure.js";
import { fuzzClients } from "../support/fuzz-server.js";
import { type ServerProcess, startServerProcess } from "../support/load-server-process.js";

const BROKEN_BWRAP = `#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
if [ "$1" = "--version" ]; then echo "bubblewrap 0.8.0"; exit 0; fi
echo "bwrap: setting up uid map: Permission denied" >&2
exit 1
`;

describe("an exec server whose bwrap cannot build namespaces", () => {
  let dir: string;
  let server: ServerProcess;
  let clients: ReturnType<typeof fuzzClients>;

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "tether-failclosed-")));
    await writeFile(join(dir, "bwrap"), BROKEN_BWRAP);
    await chmod(join(dir, "bwrap"), 0o755);
    // read-only by default: a Start that names no sandbox gets one too.
    server = await startServerProcess({ args: ["--sandbox", "read-only"], env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}` } });
    clients = fuzzClients(server.url);
  });

  afterAll(async () => {
    clients?.raw.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("says why it has no sandbox in its capabilities", async () => {
    const info = await clients.environment.getInfo({});
    expect(info.capabilities).not.toContain(Capability.SANDBOX_BWRAP);
    expect(info.unavailable.sandbox_bwrap).toMatch(/bubblewrap is installed but cannot build a sandbox \(bwrap: setting up uid map: Permission denied\)/);
  });

  it.each([
    ["the server's default sandbox", undefined],
    ["an explicit read-only sandbox", { mode: SandboxMode.READ_ONLY }],
    ["workspace-write", { mode: SandboxMode.WORKSPACE_WRITE }],
  ])("refuses a Start under %s with FAILED_PRECONDITION and runs nothing", async (_name, sandbox) => {
    const marker = join(dir, `ran-${Math.random().toString(36).slice(2)}`);
    const processId = `refused-${Math.random().toString(36).slice(2)}`;
    const err = await failure(clients.process.start({ processId, spec: { argv: ["sh", "-c", `touch ${marker}`], sandbox } }));
    expect(ErrorCode[err.code]).toBe("FailedPrecondition");
    expect(err.message).toMatch(/cannot build the requested .* sandbox: bubblewrap is installed but cannot build a sandbox/);
    expect(existsSync(marker)).toBe(false);
    expect(ErrorCode[(await failure(clients.process.wait({ processId }))).code]).toBe("NotFound");
    // The broken bwrap was only ever probed: never asked to run the command.
    expect(await readFile(join(dir, "calls.log"), "utf8")).not.toContain(marker);
  });

  it("still runs what asks for full access (the refusal is the sandbox's, not the server's)", async () => {
    const marker = join(dir, "full-access-ran");
    await clients.process.start({ processId: "full", spec: { argv: ["sh", "-c", `touch ${marker}`], sandbox: { mode: SandboxMode.FULL_ACCESS } } });
    expect((await clients.process.wait({ processId: "full" })).status?.code).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });
});
