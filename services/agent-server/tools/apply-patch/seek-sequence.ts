// Finds where a chunk's lines sit in a file, forgiving what models get wrong most: first an
// exact match, then one ignoring trailing whitespace, then one ignoring surrounding whitespace,
// then one that also folds typographic punctuation (curly quotes, dashes, odd spaces) to ASCII.

const PASSES: ((s: string) => string)[] = [(s) => s, (s) => s.trimEnd(), (s) => s.trim(), (s) => foldPunctuation(s.trim())];

/**
 * Index of the first line at or after `start` where `pattern` matches, or undefined. With
 * `endOfFile` only a match ending at the file's last line counts.
 */
export function seekSequence(lines: readonly string[], pattern: readonly string[], start: number, endOfFile: boolean): number | undefined {
  if (pattern.length === 0) return start;
  if (pattern.length > lines.length) return undefined;
  const last = lines.length - pattern.length;
  const from = endOfFile ? last : start;
  for (const norm of PASSES) {
    const want = pattern.map(norm);
    for (let i = Math.max(from, 0); i <= last; i++) {
      if (matchesAt(lines, want, i, norm)) return i;
    }
  }
  return undefined;
}

function matchesAt(lines: readonly string[], want: readonly string[], at: number, norm: (s: string) => string): boolean {
  for (let j = 0; j < want.length; j++) if (norm(lines[at + j]!) !== want[j]) return false;
  return true;
}

const FOLD: Record<string, string> = {
  "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
  "\u2018": "'", "\u2019": "'", "\u201A": "'", "\u201B": "'",
  "\u201C": '"', "\u201D": '"', "\u201E": '"', "\u201F": '"',
  "\u00A0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200A": " ", "\u202F": " ", "\u205F": " ", "\u3000": " ",
};
const FOLDABLE = new RegExp(`[${Object.keys(FOLD).join("")}]`, "g");

function foldPunctuation(s: string): string {
  return s.replace(FOLDABLE, (c) => FOLD[c] ?? c);
}
