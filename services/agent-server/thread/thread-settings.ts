// What a settings change (UpdateThreadSettings) makes of a thread's settings: unset fields
// stay, new writable roots keep the cwd first, and whether the exec session's sandbox must
// change (only then is SetSandbox sent).
import type { ThreadSettings } from "../../../clients/agent/agent-client.js";
import type { ThreadInfo } from "./thread-event.js";

export interface SettingsChange {
  next: ThreadInfo;
  /** Every writable root, the cwd first. */
  roots: string[];
  sandboxChanged: boolean;
  /** Nothing differs: no SetSandbox, no rollout record. */
  unchanged: boolean;
}

export function planSettingsChange(info: ThreadInfo, writableRoots: string[], settings: ThreadSettings): SettingsChange {
  const { writableRoots: extra, ...rest } = settings;
  const next: ThreadInfo = { ...info, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
  const roots = extra ? [info.cwd, ...extra.filter((r) => r !== info.cwd)] : writableRoots;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const sandboxChanged = next.sandbox !== info.sandbox || !same(roots, writableRoots);
  const unchanged = !sandboxChanged && next.model === info.model && same(next.approvalPolicy, info.approvalPolicy);
  return { next, roots, sandboxChanged, unchanged };
}
