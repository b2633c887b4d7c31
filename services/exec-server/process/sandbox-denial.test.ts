import { describe, expect, it } from "vitest";
import { DenialWatch } from "./sandbox-denial.js";

const text = (s: string) => Buffer.from(s);

describe("DenialWatch", () => {
  it("reports a refused write from the OS's message on stderr when the command failed under a write-restricting sandbox", () => {
    const watch = new DenialWatch({ restrictsWrites: true, denials: () => [] });
    watch.observe("stdout", text("read-only file system is fine on stdout\n"));
    watch.observe("stderr", text("sh: 1: cannot create /etc/x: Read-only file system\n"));
    expect(watch.verdict(2)).toBe("file system: Read-only file system");
    expect(watch.verdict(0)).toBeUndefined();
  });

  it("says nothing for a failure without the OS's words, or outside a sandbox", () => {
    const quiet = new DenialWatch({ restrictsWrites: true, denials: () => [] });
    quiet.observe("stderr", text("no such file\n"));
    expect(quiet.verdict(1)).toBeUndefined();
    const free = new DenialWatch({ restrictsWrites: false, denials: () => [] });
    free.observe("stderr", text("Permission denied\n"));
    expect(free.verdict(1)).toBeUndefined();
  });

  it("keeps only the tail of the output (bounded), where a failing command prints why", () => {
    const watch = new DenialWatch({ restrictsWrites: true, denials: () => [] });
    watch.observe("pty", text("Operation not permitted\n"));
    watch.observe("pty", Buffer.alloc(10_000, 0x61));
    expect(watch.verdict(1)).toBeUndefined();
  });

  it("reports proxy denials whatever the exit code", () => {
    const watch = new DenialWatch({ restrictsWrites: false, denials: () => ["a.example:443 (denied by rule a.example)"] });
    expect(watch.verdict(0)).toBe("network: a.example:443 (denied by rule a.example)");
  });
});
