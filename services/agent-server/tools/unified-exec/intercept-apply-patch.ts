// Models trained on shell-only harnesses sometimes run a patch through the shell
// (`apply_patch <<'EOF' … EOF`, optionally after `cd DIR &&`). No such program exists on the
// machine, so exec_command recognises the form and applies the patch as apply_patch would
// (same parser, same authorization, same file_change item).

const HEREDOC =
  /^\s*(?:cd\s+(?<dir>'[^']*'|"[^"]*"|[^\s;&|'"]+)\s*&&\s*)?(?:apply_patch|applypatch)\s+<<-?\s*(?<q>['"]?)(?<tag>[A-Za-z_][A-Za-z0-9_]*)\k<q>[ \t]*\r?\n(?<body>[\s\S]*?)\r?\n\k<tag>\s*$/;

export interface ShellPatch {
  patch: string;
  /** The directory of a leading `cd DIR &&`, unquoted. */
  dir?: string;
}

export function patchFromCommand(cmd: string): ShellPatch | undefined {
  const m = HEREDOC.exec(cmd);
  if (m?.groups === undefined) return undefined;
  const body = m.groups.body ?? "";
  if (!body.trimStart().startsWith("*** Begin Patch")) return undefined;
  const rawDir = m.groups.dir;
  if (rawDir === undefined) return { patch: body };
  const dir = /^['"]/.test(rawDir) ? rawDir.slice(1, -1) : rawDir;
  return { patch: body, dir };
}
