import { describe, expect, it } from "vitest";
import { patchFromCommand } from "./intercept-apply-patch.js";

const patch = "*** Begin Patch\n*** Add File: a.txt\n+a\n*** End Patch";

describe("patchFromCommand", () => {
  it("recognises apply_patch with a heredoc, quoted or not, after an optional cd", () => {
    expect(patchFromCommand(`apply_patch <<'EOF'\n${patch}\nEOF`)).toEqual({ patch });
    expect(patchFromCommand(`apply_patch <<EOF\n${patch}\nEOF\n`)).toEqual({ patch });
    expect(patchFromCommand(`applypatch <<"PATCH"\n${patch}\nPATCH`)).toEqual({ patch });
    expect(patchFromCommand(`cd sub/dir && apply_patch <<'EOF'\n${patch}\nEOF`)).toEqual({ patch, dir: "sub/dir" });
    expect(patchFromCommand(`cd '/with space' && apply_patch <<'EOF'\n${patch}\nEOF`)).toEqual({ patch, dir: "/with space" });
  });

  it("leaves everything else to the shell", () => {
    expect(patchFromCommand("apply_patch")).toBeUndefined();
    expect(patchFromCommand(`echo hi; apply_patch <<'EOF'\n${patch}\nEOF`)).toBeUndefined();
    expect(patchFromCommand(`apply_patch <<'EOF'\n${patch}\nEOF\necho after`)).toBeUndefined();
    expect(patchFromCommand(`apply_patch <<'EOF'\nnot a patch\nEOF`)).toBeUndefined();
    expect(patchFromCommand(`cat <<'EOF'\n${patch}\nEOF`)).toBeUndefined();
  });
});
