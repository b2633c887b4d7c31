// A unified diff of two texts for display in a file_change item. Common head and tail lines
// are trimmed first; the changed middle gets an exact LCS when small enough and is shown as
// one replacement otherwise (bounded memory whatever the file size).

type Op = { sign: " " | "-" | "+"; text: string };

/** Cells of the LCS table at most (4 bytes each). */
const MAX_LCS_CELLS = 1_000_000;

export function unifiedDiff(oldText: string | null, newText: string | null, oldPath: string, newPath: string, context = 3): string {
  const a = toLines(oldText);
  const b = toLines(newText);
  const ops = diffLines(a, b);
  if (!ops.some((o) => o.sign !== " ")) return "";
  const header = `--- ${oldText === null ? "/dev/null" : `a/${oldPath}`}\n+++ ${newText === null ? "/dev/null" : `b/${newPath}`}\n`;
  return header + hunks(ops, context).join("");
}

function toLines(text: string | null): string[] {
  if (text === null || text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function diffLines(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const midA = a.slice(pre, a.length - suf);
  const midB = b.slice(pre, b.length - suf);
  const same = (lines: string[]): Op[] => lines.map((text) => ({ sign: " ", text }));
  return [...same(a.slice(0, pre)), ...middle(midA, midB), ...same(a.slice(a.length - suf))];
}

function middle(a: string[], b: string[]): Op[] {
  if ((a.length + 1) * (b.length + 1) > MAX_LCS_CELLS) {
    return [...a.map((text): Op => ({ sign: "-", text })), ...b.map((text): Op => ({ sign: "+", text }))];
  }
  const w = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ sign: " ", text: a[i++]! });
      j++;
    } else if (i < a.length && (j === b.length || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
      // On a tie the removal goes first: what diff(1) prints, and easier to read.
      ops.push({ sign: "-", text: a[i++]! });
    } else {
      ops.push({ sign: "+", text: b[j++]! });
    }
  }
  return ops;
}

function hunks(ops: Op[], context: number): string[] {
  // Line numbers before each op, so a hunk header costs nothing to compute.
  const oldAt = new Uint32Array(ops.length + 1);
  const newAt = new Uint32Array(ops.length + 1);
  for (let i = 0; i < ops.length; i++) {
    oldAt[i + 1] = oldAt[i]! + (ops[i]!.sign !== "+" ? 1 : 0);
    newAt[i + 1] = newAt[i]! + (ops[i]!.sign !== "-" ? 1 : 0);
  }
  const out: string[] = [];
  let k = 0;
  for (;;) {
    let first = k;
    while (first < ops.length && ops[first]!.sign === " ") first++;
    if (first >= ops.length) break;
    // A hunk runs on while the next change is at most 2*context unchanged lines away.
    let last = first;
    for (let idx = first + 1; idx < ops.length && idx - last <= 2 * context; idx++) if (ops[idx]!.sign !== " ") last = idx;
    const start = Math.max(k, first - context);
    const end = Math.min(ops.length, last + context + 1);
    const oldLen = oldAt[end]! - oldAt[start]!;
    const newLen = newAt[end]! - newAt[start]!;
    const oldStart = oldLen === 0 ? oldAt[start]! : oldAt[start]! + 1;
    const newStart = newLen === 0 ? newAt[start]! : newAt[start]! + 1;
    out.push(`@@ -${oldStart},${oldLen} +${newStart},${newLen} @@\n`);
    for (let idx = start; idx < end; idx++) out.push(`${ops[idx]!.sign}${ops[idx]!.text}\n`);
    k = end;
  }
  return out;
}
