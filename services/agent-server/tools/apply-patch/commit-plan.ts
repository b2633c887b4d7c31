// Writes a patch plan through the Environment so that it never overwrites a change made since
// the files were read (every write carries the version that was read, or "absent"), and so
// that a failure part-way leaves no file half-changed: the files already written are put back
// from the contents saved at read time, again only if nobody changed them in between.
import type { FileOps } from "../../../../clients/environment/environment.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import type { PatchPlan, PlannedFile } from "./patch-plan.js";

type Done = { file: PlannedFile; written: string | null };

export interface CommitFailure {
  /** What failed, in words for the model. */
  message: string;
  /** Files the rollback could not restore (each with why): these are left changed. */
  notRestored: string[];
}

/** Applies the plan; resolves to undefined on success, or to what failed (after rolling back). */
export async function commitPlan(plan: PatchPlan, files: FileOps, signal: AbortSignal): Promise<CommitFailure | undefined> {
  const done: Done[] = [];
  for (const file of plan.files) {
    try {
      done.push({ file, written: await commitOne(file, files, signal) });
    } catch (err) {
      const notRestored = await rollback(done, files);
      return { message: describeFailure(file, err), notRestored };
    }
  }
  return undefined;
}

async function commitOne(file: PlannedFile, files: FileOps, signal: AbortSignal): Promise<string | null> {
  if (file.final === null) {
    // Remove has no expected version: compare just before, which narrows the race to one call.
    const now = await files.stat(file.path, { signal });
    if (file.original === null || now.version !== file.original.version) throw changedSinceRead(file.path);
    await files.remove(file.path, { signal });
    return null;
  }
  const info = await files.writeFile(
    { path: file.path, expectedVersion: file.original?.version ?? "absent", createParents: true, mode: file.original === null ? file.mode : 0 },
    Buffer.from(file.final, "utf8"),
    { signal },
  );
  return info.version;
}

/** Undoes `done` in reverse order. Runs even when the turn was aborted: a half patch is worse. */
async function rollback(done: Done[], files: FileOps): Promise<string[]> {
  const notRestored: string[] = [];
  for (const { file, written } of done.reverse()) {
    try {
      if (file.original === null) {
        const now = await files.stat(file.path);
        if (now.version !== written) throw changedSinceRead(file.path);
        await files.remove(file.path);
      } else {
        await files.writeFile({ path: file.path, expectedVersion: written ?? "absent", createParents: true, mode: file.original.mode }, file.original.bytes);
      }
    } catch (err) {
      notRestored.push(`${file.path}: ${TetherError.from(err).message}`);
    }
  }
  return notRestored;
}

function changedSinceRead(p: string): TetherError {
  return new TetherError(ErrorCode.FailedPrecondition, `${p} changed since the patch read it`);
}

function describeFailure(file: PlannedFile, err: unknown): string {
  const e = TetherError.from(err);
  if (e.code === ErrorCode.FailedPrecondition || e.code === ErrorCode.AlreadyExists) {
    return `${file.path} changed after apply_patch read it (another process wrote it); nothing was overwritten. Read the file again and make a new patch. (${e.message})`;
  }
  return `writing ${file.path} failed: ${e.message}`;
}
