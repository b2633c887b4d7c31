// Rebuilds a thread from its rollout: its info, its turns (rollbacks applied) and the exact
// model input. Tolerates what a crash leaves (a torn last line, a turn without `end`, a tool
// call whose output was never recorded) and refuses a format it does not know.
import { readFile } from "../../common/fs-async.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ConversationItem } from "../model/model-client.js";
import type { ProposedAction } from "../policy/approval-types.js";
import { MAX_GRANTS_PER_KIND } from "../policy/session-grants.js";
import { type ExecSessionRecord, ROLLOUT_FORMAT, type RolloutRecord, type TurnStatus } from "./rollout-record.js";
import type { ThreadInfo, ThreadItem } from "./thread-event.js";

export const ABORTED_CALL_OUTPUT = "aborted: the agent stopped before this call's result was recorded";

export interface StoredTurn {
  turnId: string;
  input: ConversationItem[];
  items: ThreadItem[];
  /** A turn the file never saw end (a crash) counts as interrupted. */
  status: TurnStatus;
  ended: boolean;
}

export interface RolloutState {
  thread: ThreadInfo;
  forkedFrom?: { threadId: string; turnCount: number };
  turns: StoredTurn[];
  /** Calls whose output was never recorded, with the turn to record the synthetic output in. */
  danglingCalls: { turnId: string; callId: string }[];
  warnings: string[];
  /**
   * Where a torn last line starts (bytes): a resume cuts the file there before appending,
   * or its first new record would join the torn fragment into a damaged middle line.
   */
  tornAt?: number;
  /** The thread's exec session (absent: a file from before it was recorded). */
  execSessionId?: string;
  /** Writable roots beyond the cwd, as last recorded. */
  writableRoots: string[];
  /** Unified-exec sessions the model was last told are running, by session id. */
  execSessions: ExecSessionRecord[];
  /** Above every session id the thread ever handed out. */
  execNextId: number;
  /** What "accept for the session" granted since the thread's exec session began, oldest first. */
  sessionGrants: ProposedAction[];
}

/** Grants a resume replays at most (the newest kept). */
export const MAX_STORED_GRANTS = 4 * MAX_GRANTS_PER_KIND;

export function parseRollout(text: string, file: string): RolloutState {
  const lines = text.split("\n");
  const warnings: string[] = [];
  const records: RolloutRecord[] = [];
  let tornAt: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    try {
      records.push(JSON.parse(line) as RolloutRecord);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l === "");
      if (!isLast) throw new TetherError(ErrorCode.DataLoss, `${file}:${i + 1}: the rollout line is not JSON (the file is damaged; only a torn last line is tolerated)`);
      tornAt = Buffer.byteLength(lines.slice(0, i).map((l) => `${l}\n`).join(""));
      warnings.push(`${file}: ignored a torn last line (${line.length} bytes), probably from a crash`);
    }
  }
  const meta = records[0];
  if (!meta || meta.t !== "meta") throw new TetherError(ErrorCode.DataLoss, `${file}: the rollout does not start with its meta line`);
  if (typeof meta.format !== "number" || meta.format > ROLLOUT_FORMAT) {
    throw new TetherError(ErrorCode.FailedPrecondition, `${file}: rollout format ${meta.format} is newer than this tether understands (${ROLLOUT_FORMAT}): upgrade tether to open it`);
  }
  let thread = meta.thread;
  let writableRoots = meta.writableRoots ?? [];
  const execSessions = new Map<number, ExecSessionRecord>();
  let execNextId = meta.execNextId ?? 0;
  const sessionGrants: ProposedAction[] = [];
  let turns: StoredTurn[] = [];
  const byId = new Map<string, StoredTurn>();
  for (const r of records.slice(1)) {
    switch (r.t) {
      case "turn": {
        const turn: StoredTurn = { turnId: r.turnId, input: [], items: [], status: "interrupted", ended: false };
        turns.push(turn);
        byId.set(r.turnId, turn);
        break;
      }
      case "input":
        byId.get(r.turnId)?.input.push(r.item);
        break;
      case "item":
        byId.get(r.turnId)?.items.push(r.item);
        break;
      case "end": {
        const turn = byId.get(r.turnId);
        if (turn) Object.assign(turn, { status: r.status, ended: true });
        break;
      }
      case "rollback":
        turns = turns.slice(0, Math.max(0, turns.length - r.turns));
        break;
      case "settings":
        thread = r.thread;
        if (r.writableRoots) writableRoots = r.writableRoots;
        break;
      case "exec":
        execSessions.set(r.session.sessionId, r.session);
        execNextId = Math.max(execNextId, r.session.sessionId + 1);
        break;
      case "exec_closed":
        execSessions.delete(r.sessionId);
        break;
      case "grant":
        sessionGrants.push(r.action);
        // Bounded as the grants themselves are (SessionGrants drops the oldest too).
        if (sessionGrants.length > MAX_STORED_GRANTS) sessionGrants.shift();
        break;
      case "grants_cleared":
        sessionGrants.length = 0;
        break;
      case "meta":
        throw new TetherError(ErrorCode.DataLoss, `${file}: a second meta line`);
    }
  }
  const danglingCalls: { turnId: string; callId: string }[] = [];
  for (const turn of turns) {
    const answered = new Set(turn.input.flatMap((i) => (i.type === "function_call_output" ? [i.callId] : [])));
    for (const i of turn.input) {
      if (i.type === "function_call" && !answered.has(i.callId)) {
        danglingCalls.push({ turnId: turn.turnId, callId: i.callId });
        // Never resume past a call whose result is unknown: the model is told it was aborted.
        turn.input.push({ type: "function_call_output", callId: i.callId, output: ABORTED_CALL_OUTPUT });
      }
    }
  }
  return {
    thread,
    ...(meta.forkedFrom ? { forkedFrom: meta.forkedFrom } : {}),
    turns,
    danglingCalls,
    warnings,
    ...(tornAt !== undefined ? { tornAt } : {}),
    ...(meta.execSessionId ? { execSessionId: meta.execSessionId } : {}),
    writableRoots,
    execSessions: [...execSessions.values()],
    execNextId,
    sessionGrants,
  };
}

export async function readRollout(file: string): Promise<RolloutState> {
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw TetherError.from(err, `cannot read the rollout ${file}`);
  });
  return parseRollout(text, file);
}

export function conversationOf(turns: StoredTurn[]): ConversationItem[] {
  return turns.flatMap((t) => t.input);
}
