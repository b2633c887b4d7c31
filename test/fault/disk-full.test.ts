// A full disk, through the whole stack: WriteFile over gRPC into a small tmpfs gets
// RESOURCE_EXHAUSTED with a message, leaves no temp file and the old contents intact;
// a process writing there gets ENOSPC itself; the server keeps serving throughout.
// Mounting needs root (CAP_SYS_ADMIN); without it the suite skips and says why.
import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WriteFileRequestSchema } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { TEMP_PREFIX } from "../../services/exec-server/fs/atomic-write.js";
import { type FuzzServer, startFuzzServer } from "../support/fuzz-server.js";
import { failure } from "../support/failure.js";
import { skipTestOutsideCi } from "../support/ci-must-run.js";

type WriteReq = MessageInitShape<typeof WriteFileRequestSchema>;

const SIZE = 1 << 20;
const SESSION = "disk-full";

async function* writeParts(path: string, total: number, chunk = 64 << 10): AsyncGenerator<WriteReq> {
  yield { part: { case: "header", value: { path, sessionId: SESSION } } };
  for (let sent = 0; sent < total; sent += chunk) yield { part: { case: "data", value: new Uint8Array(Math.min(chunk, total - sent)).fill(0x61) } };
}


function tryMount(dir: string): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${SIZE},mode=0755`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return `cannot mount a tmpfs (${stderr || String(err)}): run as root to test a full disk`;
  }
}

describe("a full disk", () => {
  let fuzz: FuzzServer;
  let small: string;
  let skipReason: string | undefined;

  beforeAll(async () => {
    fuzz = await startFuzzServer();
    small = join(fuzz.dir, "small");
    await mkdir(small);
    skipReason = tryMount(small);
    // File calls and processes of this session may write the small disk, nothing else.
    await fuzz.clients.session.openSession({ sessionId: SESSION, defaultSandbox: { mode: SandboxMode.WORKSPACE_WRITE, writableRoots: [small] } });
  });

  afterAll(async () => {
    // Processes first (they may hold the mount), then the mount, then the temp dir.
    await fuzz?.core.close();
    if (small && !skipReason) {
      try {
        execFileSync("umount", [small]);
      } catch {
        execFileSync("umount", ["-l", small]); // still busy: detach it; it goes with the last user
      }
    }
    await fuzz?.close();
  });

  it("WriteFile that fills it gets RESOURCE_EXHAUSTED, leaves no temp file, and the old file intact", async (ctx) => {
    skipTestOutsideCi(ctx, skipReason, "disk-full tests (tmpfs mount)");
    const { files } = fuzz.clients;
    const keep = join(small, "keep.txt");
    await files.writeFile(
      (async function* () {
        yield { part: { case: "header" as const, value: { path: keep, sessionId: SESSION } } };
        yield { part: { case: "data" as const, value: Buffer.from("old contents") } };
      })(),
    );

    const replace = await failure(files.writeFile(writeParts(keep, 2 * SIZE)));
    expect(replace.code).toBe(ErrorCode.ResourceExhausted);
    expect(replace.message).toMatch(/disk full.*keep\.txt/);
    expect(await readFile(keep, "utf8")).toBe("old contents");

    const fresh = await failure(files.writeFile(writeParts(join(small, "big.bin"), 2 * SIZE)));
    expect(fresh.code).toBe(ErrorCode.ResourceExhausted);
    expect((await readdir(small)).filter((n) => n.startsWith(TEMP_PREFIX) || n === "big.bin")).toEqual([]);
    expect(await readdir(small)).toEqual(["keep.txt"]);

    // Still serving: health, reads of the old file, and a write that fits.
    expect(await fuzz.healthy()).toBe(true);
    expect((await files.stat({ path: keep, sessionId: SESSION })).info?.size).toBe(12n);
    const ok = await files.writeFile(writeParts(join(small, "fits.bin"), 64 << 10));
    expect(ok.info?.size).toBe(BigInt(64 << 10));
    await rm(join(small, "fits.bin"));
  });

  it("a process writing to the full disk gets ENOSPC itself, and the server keeps serving", async (ctx) => {
    skipTestOutsideCi(ctx, skipReason, "disk-full tests (tmpfs mount)");
    const { process, files } = fuzz.clients;
    // Fill what is left, then let a process try to write more.
    await writeFile(join(small, "filler"), Buffer.alloc(SIZE)).catch((err: unknown) => {
      if ((err as { code?: string }).code !== "ENOSPC") throw err;
    });
    await process.start({
      processId: "writer",
      sessionId: SESSION,
      spec: {
        argv: ["sh", "-c", `head -c 200000 /dev/zero > ${small}/more.bin; echo "exit=$?" >&2`],
        sandbox: { mode: SandboxMode.WORKSPACE_WRITE, writableRoots: [small] },
        timeouts: { wallMs: 20_000 },
      },
    });
    let stderr = "";
    let exitCode: number | undefined;
    for await (const ev of process.attach({ processId: "writer" })) {
      if (ev.event.case === "output") stderr += Buffer.from(ev.event.value.data).toString();
      if (ev.event.case === "exited") exitCode = ev.event.value.status?.code;
    }
    expect(exitCode).toBe(0);
    expect(stderr).toMatch(/No space left on device/);
    expect(stderr).toMatch(/exit=1/);

    expect(await fuzz.healthy()).toBe(true);
    const again = await failure(files.writeFile(writeParts(join(small, "keep.txt"), 4096)));
    expect(again.code).toBe(ErrorCode.ResourceExhausted);
    expect(await readFile(join(small, "keep.txt"), "utf8")).toBe("old contents");
    await process.start({ processId: "after", spec: { argv: ["sh", "-c", "exit 5"] } });
    expect((await process.wait({ processId: "after" })).status?.code).toBe(5);
  });
});
