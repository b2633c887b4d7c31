// What a test does when the machine lacks something it needs: outside CI it skips and says
// why; in CI (CI=true) nothing may vanish quietly, so it fails, naming what is missing.

const inCi = () => process.env.CI === "true";

/**
 * For `describe.skipIf` / `it.skipIf` at module level: true (skip) when `reason` is set
 * outside CI; in CI a set reason throws, and the file fails to load with that message.
 */
export function skipOutsideCi(reason: string | undefined, what: string): boolean {
  if (reason === undefined) return false;
  if (inCi()) throw new Error(`CI=true but ${what} cannot run: ${reason}`);
  console.log(`skipped (${what}): ${reason}`);
  return true;
}

/** Inside a test: skip with the reason outside CI, fail in CI. Returns only when `reason` is unset. */
export function skipTestOutsideCi(ctx: { skip: (note?: string) => void }, reason: string | undefined, what: string): void {
  if (reason === undefined) return;
  if (inCi()) throw new Error(`CI=true but ${what} cannot run: ${reason}`);
  console.log(`skipped (${what}): ${reason}`);
  ctx.skip(reason);
}
