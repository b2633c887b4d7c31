// The apply_patch tool: parse the patch, ask to change the files, read and compute every
// file's new text, then write them all through the Environment (versions checked, rolled back
// on failure). The file_change item carries a unified diff per hunk.
import { TetherError } from "../../../common/tether-error.js";
import type { FileChange, ThreadItem } from "../../thread/thread-event.js";
import type { ToolContext, ToolDefinition, ToolResult } from "../tool.js";
import { TOOL_PARAMETERS } from "../tool-parameters.gen.js";
import type { ApplyPatchInput } from "./apply-patch-input.js";
import { commitPlan } from "./commit-plan.js";
import { type PatchHunk, parsePatch } from "./patch-parser.js";
import { planPatch, resolvePatchPath } from "./patch-plan.js";
import { FULL_ACCESS } from "../unified-exec/exec-sandbox.js";
import { sessionSandboxFor } from "../../thread-environment.js";

const DESCRIPTION = `Edit files with a patch. The input is the whole patch text:
*** Begin Patch
*** Add File: path/new.txt
+every line of the new file, each starting with +
*** Update File: path/existing.py
*** Move to: path/renamed.py   (optional)
@@ def some_function():        (optional context line to find first; '@@' alone is fine)
 unchanged line (space prefix)
-removed line
+added line
*** End of File                (optional: the lines above end the file)
*** Delete File: path/old.txt
*** End Patch
Paths are relative to the working directory (or absolute). Give about 3 lines of context around each change, and several @@ chunks for separate places in one file, in file order. Never use this for a file you have not read.`;

type FileChangeItem = Extract<ThreadItem, { type: "file_change" }>;

export function applyPatchTool(): ToolDefinition<ApplyPatchInput> {
  return {
    name: "apply_patch",
    description: DESCRIPTION,
    input: { parameters: TOOL_PARAMETERS.apply_patch, load: async () => (await import("./apply-patch-input.js")).applyPatchInput },
    mutating: true,
    fromPlainText: (text) => ({ input: text }),
    run: (input, ctx) => runApplyPatch(input.input, ctx),
  };
}

/** Applies patch text as the apply_patch tool does (also used when exec_command is handed a patch). */
export async function runApplyPatch(patch: string, ctx: ToolContext): Promise<ToolResult> {
  let hunks: PatchHunk[];
  try {
    hunks = parsePatch(patch);
  } catch (err) {
    return { output: TetherError.from(err).message, success: false };
  }
  if (hunks.length === 0) return { output: "the patch has no hunks: nothing to do", success: false };
  const item: FileChangeItem = { type: "file_change", id: `patch-${ctx.callId}`, callId: ctx.callId, changes: outline(hunks), status: "in_progress" };
  const paths = [...new Set(hunks.flatMap((h) => [h.path, ...(h.kind === "update" && h.movePath !== undefined ? [h.movePath] : [])]).map((p) => resolvePatchPath(ctx.cwd, p)))];
  const outsideWritableRoots = paths.some((p) => !ctx.writableRoots.some((root) => isWritableUnder(p, root)));
  const auth = await ctx.authorize({ kind: "file_change", paths, outsideWritableRoots });
  ctx.signal.throwIfAborted();
  if (!auth.allowed) {
    ctx.item.started(item);
    ctx.item.completed({ ...item, status: "declined", error: auth.reason });
    return { output: `apply_patch was not allowed (${auth.by}): ${auth.reason}`, success: false };
  }
  ctx.item.started(item);
  let plan;
  try {
    plan = await planPatch(hunks, ctx.cwd, ctx.env.files, ctx.signal);
  } catch (err) {
    ctx.signal.throwIfAborted();
    const message = `apply_patch failed; no file was changed: ${TetherError.from(err).message}`;
    ctx.item.completed({ ...item, status: "failed", error: message });
    return { output: message, success: false };
  }
  const planned: FileChangeItem = { ...item, changes: plan.changes };
  ctx.item.updated(planned);
  // The exec session's default sandbox is the thread's (file calls obey it): an approved patch
  // beyond it widens the session for these writes only.
  const beyondSandbox = ctx.sandbox === "read-only" || (ctx.sandbox === "workspace-write" && outsideWritableRoots);
  const failure = beyondSandbox ? await withFullAccess(ctx, () => commitPlan(plan, ctx.env.files, ctx.signal)) : await commitPlan(plan, ctx.env.files, ctx.signal);
  if (failure !== undefined) {
    const message =
      failure.notRestored.length === 0
        ? `apply_patch failed; every file was left as it was: ${failure.message}`
        : `apply_patch failed: ${failure.message}. These files could not be restored and are left changed: ${failure.notRestored.join("; ")}`;
    ctx.item.completed({ ...planned, status: "failed", error: message });
    ctx.signal.throwIfAborted();
    return { output: message, success: false };
  }
  ctx.item.completed({ ...planned, status: "completed" });
  return { output: summary(plan.changes), success: true };
}

async function withFullAccess<T>(ctx: ToolContext, fn: () => Promise<T>): Promise<T> {
  await ctx.env.session.setSandbox(FULL_ACCESS, { signal: ctx.signal });
  try {
    return await fn();
  } finally {
    await ctx.env.session.setSandbox(sessionSandboxFor(ctx.sandbox, ctx.writableRoots));
  }
}

/** The changes as the patch names them, before any file is read (no diffs yet). */
function outline(hunks: PatchHunk[]): FileChange[] {
  return hunks.map((h) => ({ path: h.path, kind: h.kind, ...(h.kind === "update" && h.movePath !== undefined ? { movePath: h.movePath } : {}) }));
}

function summary(changes: FileChange[]): string {
  const letter = { add: "A", update: "M", delete: "D" } as const;
  const lines = changes.map((c) => (c.movePath === undefined ? `${letter[c.kind]} ${c.path}` : `R ${c.path} -> ${c.movePath}`));
  return `Success. Updated the following files:\n${lines.join("\n")}\n`;
}

/** Inside the root but not in what the sandbox keeps read-only there (`.git`, `.tether`), as for commands. */
function isWritableUnder(p: string, root: string): boolean {
  const r = root.endsWith("/") ? root.slice(0, -1) : root;
  return isWithin(p, r) && !PROTECTED.some((name) => isWithin(p, `${r}/${name}`));
}

const PROTECTED = [".git", ".tether"];

function isWithin(p: string, root: string): boolean {
  const r = root.endsWith("/") ? root.slice(0, -1) : root;
  return p === r || p.startsWith(`${r}/`) || r === "";
}
