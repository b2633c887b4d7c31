// One transcript entry as the terminal shows it. Props only: no state, no agent.
import { Box, Text } from "ink";
import type { Entry } from "./tui-state.js";

/** Lines of a running command shown live, and of a finished one before it is collapsed. */
const LIVE_OUTPUT_LINES = 6;
export const COLLAPSE_AFTER_LINES = 12;

function outputLines(output: string): string[] {
  const lines = output.replace(/\n$/, "").split("\n");
  return lines.length === 1 && lines[0] === "" ? [] : lines;
}

/** Long output keeps its head and tail with a count of what is hidden between. */
export function collapse(lines: string[], done: boolean): string[] {
  if (!done) return lines.length > LIVE_OUTPUT_LINES ? [`… ${lines.length - LIVE_OUTPUT_LINES} lines above`, ...lines.slice(-LIVE_OUTPUT_LINES)] : lines;
  if (lines.length <= COLLAPSE_AFTER_LINES) return lines;
  return [...lines.slice(0, 4), `… ${lines.length - 8} more lines (collapsed)`, ...lines.slice(-4)];
}

function CommandView({ entry }: { entry: Extract<Entry, { kind: "command" }> }) {
  const lines = collapse(outputLines(entry.output), entry.done);
  const failed = entry.exitCode !== undefined && entry.exitCode !== 0;
  const took = entry.durationMs !== undefined ? ` · ${(entry.durationMs / 1000).toFixed(1)}s` : "";
  const end = entry.exitCode !== undefined ? `exit ${entry.exitCode}${took}` : entry.done ? entry.status : "";
  return (
    <Box flexDirection="column">
      <Text>
        <Text color={entry.done ? (failed || entry.status === "declined" ? "red" : "green") : "yellow"}>$ </Text>
        <Text bold>{entry.command}</Text>
      </Text>
      {lines.map((line, i) => (
        <Text key={i} dimColor wrap="truncate-end">
          {"  "}
          {line}
        </Text>
      ))}
      {end !== "" && <Text color={failed || entry.status !== "completed" ? "red" : "gray"}>{`  ${end}`}</Text>}
    </Box>
  );
}

export function EntryView({ entry }: { entry: Entry }) {
  switch (entry.kind) {
    case "user":
      return (
        <Box marginTop={1}>
          <Text color="cyan">{"› "}</Text>
          <Text>{entry.text}</Text>
        </Box>
      );
    case "agent":
      return (
        <Box marginTop={1}>
          <Text>{entry.text}</Text>
        </Box>
      );
    case "reasoning":
      return entry.text.trim() === "" ? null : <Text dimColor italic>{`thinking: ${entry.text.trim()}`}</Text>;
    case "command":
      return <CommandView entry={entry} />;
    case "files":
      return (
        <Box flexDirection="column">
          {entry.changes.map((c) => (
            <Text key={c.path} color={entry.status === "completed" ? "green" : "red"}>
              {`${c.kind === "add" ? "A" : c.kind === "delete" ? "D" : "M"} ${c.movePath ? `${c.path} → ${c.movePath}` : c.path}${entry.status === "completed" ? "" : ` (${entry.status})`}`}
            </Text>
          ))}
        </Box>
      );
    case "approval":
      return entry.decision ? <Text color={entry.decision.startsWith("accept") ? "green" : "red"}>{`approval: ${entry.decision.replace(/_/g, " ")}${entry.decidedBy && entry.decidedBy !== "user" ? ` (${entry.decidedBy})` : ""}`}</Text> : null;
    case "error":
      return <Text color="red">{`error: ${entry.message}`}</Text>;
    case "notice":
      return <Text color={entry.tone === "error" ? "red" : entry.tone === "warn" ? "yellow" : "gray"}>{entry.text}</Text>;
  }
}
