// How a target process ended, as tether-launch reports it in its last status line (or as
// Node guesses it when the launcher died without one).

export interface ChildExit {
  code: number | null;
  signal: number | null;
  signalName: string;
  userCpuMs: number;
  systemCpuMs: number;
  maxRssKb: number;
  /** Set when the launcher died without reporting; code/signal are then the launcher's best guess. */
  launcherFailure?: string;
}
