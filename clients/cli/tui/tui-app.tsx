// The Ink application of `tether` (no subcommand): renders the controller's snapshot, sends
// it keys and pastes, ticks the spinner while a turn runs, and follows the terminal's size.
import { render, useInput, usePaste, useWindowSize } from "ink";
import { useEffect, useState, useSyncExternalStore } from "react";
import type { AgentSession } from "../agent-session.js";
import { type OpenTarget, TuiController } from "./tui-controller.js";
import { TuiView } from "./tui-view.js";

export function TuiApp({ controller }: { controller: TuiController }) {
  const snap = useSyncExternalStore(controller.subscribe, controller.snapshot);
  const { columns } = useWindowSize();
  const [now, setNow] = useState(controller.now());
  const running = snap.state.turn !== undefined;
  useEffect(() => {
    setNow(controller.now());
    if (!running) return;
    // Animation only: the spinner and elapsed seconds. Nothing waits on this timer.
    const timer = setInterval(() => setNow(controller.now()), 100);
    return () => clearInterval(timer);
  }, [running, controller]);
  useInput((input, key) => controller.key(input, key));
  usePaste((text) => controller.paste(text));
  return <TuiView state={snap.state} prompt={snap.prompt} now={now} width={Math.max(20, columns - 1)} hint={snap.hint} />;
}

/** Runs the session until the user leaves; the agent is closed on the way out. */
export async function runTui(session: AgentSession, target: OpenTarget = {}): Promise<void> {
  const controller = new TuiController(session);
  try {
    await controller.open(target);
    // Ctrl-C is a key here (interrupt, then exit), not a signal that kills the process.
    // Interactive whenever the terminal is one: Ink would otherwise turn itself off under CI=true
    // (is-in-ci) and show nothing until exit, though someone is typing at this TTY.
    const app = render(<TuiApp controller={controller} />, { exitOnCtrlC: false, interactive: Boolean(process.stdout.isTTY) });
    await controller.done;
    app.unmount();
    await app.waitUntilExit();
  } finally {
    await controller.close();
  }
}
