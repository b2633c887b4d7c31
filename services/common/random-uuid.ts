// Random v4 UUIDs without node:crypto or Web Crypto: their first use loads the crypto
// internals, ≈ 4 ms of a `tether run`'s start-up (issue 18) and ≈ 6 ms CPU before `tether
// exec`'s first model request (thread, turn and item ids; issue 15), where 16 bytes of
// /dev/urandom cost microseconds. Without /dev/urandom, Web Crypto.
import { closeSync, openSync, readSync } from "node:fs";

/** Bytes read ahead from /dev/urandom, so a run opens it once. */
const POOL_BYTES = 256;
let pool: Buffer | undefined;
let used = POOL_BYTES;

function random16(): Buffer | undefined {
  if (used + 16 > POOL_BYTES || !pool) {
    let fd: number | undefined;
    try {
      fd = openSync("/dev/urandom", "r");
      const fresh = Buffer.alloc(POOL_BYTES);
      if (readSync(fd, fresh, 0, POOL_BYTES, null) !== POOL_BYTES) return undefined;
      pool = fresh;
      used = 0;
    } catch {
      // No /dev/urandom (not Linux, a bare chroot): Web Crypto then.
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  const bytes = pool.subarray(used, used + 16);
  used += 16;
  return bytes;
}

export function randomUuid(): string {
  const b = random16();
  if (!b) return crypto.randomUUID();
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
