// The one question every file operation and the sandbox builder ask of a policy:
// how may this absolute, already-resolved path be touched?

export type FileAccessLevel = "read" | "write" | "none";

export interface FileAccessPolicy {
  /** Access for a resolved absolute path (symlinks and `..` already resolved by the caller). */
  accessFor(absPath: string): FileAccessLevel;
  /** Human-readable description for error messages, e.g. "workspace-write (roots: /work)". */
  describe(): string;
}

export const FULL_ACCESS: FileAccessPolicy = {
  accessFor: () => "write",
  describe: () => "full access",
};
