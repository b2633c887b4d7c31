// A seccomp filter (classic BPF, the format bwrap's --seccomp reads) that refuses the two
// ioctls able to push input into a terminal: TIOCSTI and TIOCLINUX. PTY commands cannot get
// --new-session (it breaks job control), and with zsh-fork an escalated, unsandboxed
// program may read the same PTY, so injected keystrokes would run outside the sandbox.

import { ErrorCode, TetherError } from "../../common/tether-error.js";

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;

const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
// struct seccomp_data: nr at 0, arch at 4, args[1] (the ioctl request) at 24.
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG1_LOW = 24;
const X32_SYSCALL_BIT = 0x40000000;

interface ArchEntry {
  audit: number;
  ioctl: number;
  /** x86_64's x32 ABI shares the arch value; its syscalls are refused wholesale. */
  x32?: boolean;
}

// Native and compat ABIs per Node arch; both are little-endian, so args[1]'s low word is at 24.
const ARCHES: Record<string, ArchEntry[]> = {
  x64: [
    { audit: 0xc000003e, ioctl: 16, x32: true },
    { audit: 0x40000003, ioctl: 54 },
  ],
  arm64: [
    { audit: 0xc00000b7, ioctl: 29 },
    { audit: 0x40000028, ioctl: 54 },
  ],
};

type Target = number | string;
interface Ins {
  code: number;
  k: number;
  jt?: Target;
  jf?: Target;
  label?: string;
}

/** The filter for this machine's arch, or undefined where tether has no syscall table. */
export function ttyInjectionFilter(arch: string = process.arch): Buffer | undefined {
  const entries = ARCHES[arch];
  if (entries === undefined) return undefined;
  const prog: Ins[] = [{ code: LD_W_ABS, k: OFF_ARCH }];
  entries.forEach((e, i) => {
    const next = `arch${i + 1}`;
    prog.push({ code: JEQ_K, k: e.audit, jt: 0, jf: next });
    prog.push({ code: LD_W_ABS, k: OFF_NR });
    if (e.x32 === true) prog.push({ code: JGE_K, k: X32_SYSCALL_BIT, jt: "x32", jf: 0 });
    prog.push({ code: JEQ_K, k: e.ioctl, jt: 0, jf: "allow" });
    prog.push({ code: LD_W_ABS, k: OFF_ARG1_LOW });
    prog.push({ code: JEQ_K, k: TIOCSTI, jt: "deny", jf: 0 });
    prog.push({ code: JEQ_K, k: TIOCLINUX, jt: "deny", jf: "allow" });
    // The next arch check (or, after the last, allow) starts here; the accumulator still
    // holds the arch on that path.
    prog.push({ code: -1, k: 0, label: next });
  });
  prog.push({ code: RET_K, k: RET_ALLOW, label: "allow" });
  prog.push({ code: RET_K, k: RET_ERRNO | EPERM, label: "deny" });
  prog.push({ code: RET_K, k: RET_ERRNO | ENOSYS, label: "x32" });
  return assemble(prog);
}

/** Resolves labels to relative jumps; `code: -1` entries are labels only. */
function assemble(prog: Ins[]): Buffer {
  const real: Ins[] = [];
  const labels = new Map<string, number>();
  for (const ins of prog) {
    if (ins.label !== undefined) labels.set(ins.label, real.length);
    if (ins.code !== -1) real.push(ins);
  }
  const out = Buffer.alloc(real.length * 8);
  real.forEach((ins, i) => {
    const rel = (t: Target | undefined): number => {
      if (t === undefined || typeof t === "number") return t ?? 0;
      const at = labels.get(t);
      if (at === undefined) throw new TetherError(ErrorCode.Internal, `seccomp assembler: unknown label ${t}`);
      const off = at - (i + 1);
      if (off < 0 || off > 255) throw new TetherError(ErrorCode.Internal, `seccomp assembler: jump to ${t} out of range`);
      return off;
    };
    out.writeUInt16LE(ins.code, i * 8);
    out.writeUInt8(rel(ins.jt), i * 8 + 2);
    out.writeUInt8(rel(ins.jf), i * 8 + 3);
    out.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return out;
}
