// Whether this process's stdin is /dev/null (cron, CI, `< /dev/null`, a benchmark's
// stdio "ignore"): `tether run` then starts the command with no stdin (the exec server gives it
// /dev/null too, as `ssh -n` does) instead of reading an empty file through process.stdin,
// which costs a run ≈ 3-5 ms of CPU (node's fs streams, a WriteStream to the server) for no byte.
import { fstatSync, statSync } from "node:fs";

let known: boolean | undefined;

export function stdinIsDevNull(): boolean {
  if (known === undefined) {
    try {
      const stdin = fstatSync(0);
      known = stdin.isCharacterDevice() && stdin.rdev === statSync("/dev/null").rdev;
    } catch {
      known = false; // fd 0 closed, or no /dev/null: process.stdin decides, as before
    }
  }
  return known;
}
