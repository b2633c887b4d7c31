import { describe, expect, it } from "vitest";
import { commandMightBeDangerous, isKnownSafeCommand } from "./known-safe-command.js";

describe("isKnownSafeCommand", () => {
  it.each([
    ["ls"], ["ls", "-la", "src"], ["/bin/cat", "x"], ["git", "status"], ["git", "-C", ".", "log", "-n", "1"], ["git", "branch"],
    ["git", "branch", "--show-current"], ["git", "diff", "--stat"], ["rg", "-n", "foo"], ["find", ".", "-name", "*.ts"],
    ["base64", "x"], ["sed", "-n", "1,5p", "f"], ["sed", "-n", "10p"], ["wc", "-l"],
  ])("%j is read-only", (...argv) => {
    expect(isKnownSafeCommand(argv)).toBe(true);
  });

  it.each([
    ["cargo", "build"], ["git", "push"], ["git", "fetch"], ["git", "checkout", "status"], ["git", "branch", "-d", "x"],
    ["git", "branch", "new"], ["git", "log", "--output=/tmp/x"], ["git", "diff", "--ext-diff"], ["git", "-c", "core.pager=sh", "log"],
    ["git", "-ccore.pager=sh", "status"], ["find", ".", "-delete"], ["find", ".", "-exec", "rm", "{}", ";"], ["find", ".", "-fprint", "x"],
    ["rg", "--pre", "sh", "x"], ["rg", "--pre=sh", "x"], ["rg", "-z", "x"], ["base64", "-o", "x"], ["base64", "--output=x"], ["base64", "-ox"],
    ["sed", "-i", "s/a/b/", "f"], ["sed", "-n", "1,5p;w x", "f"], ["sed", "-n", "1p", "a", "b"], [],
  ])("%j is not known safe", (...argv) => {
    expect(isKnownSafeCommand(argv)).toBe(false);
  });

  it("distrusts glob words that could expand to a flag of a flag-sensitive command", () => {
    expect(isKnownSafeCommand(["find", "*"], [1])).toBe(false);
    expect(isKnownSafeCommand(["rg", "foo", "-*"], [2])).toBe(false);
    expect(isKnownSafeCommand(["rg", "foo", "src/*.ts"], [2])).toBe(true);
    expect(isKnownSafeCommand(["ls", "*"], [1])).toBe(true);
  });
});

describe("commandMightBeDangerous", () => {
  it.each([
    [["rm", "-f", "x"], true], [["rm", "-rf", "/"], true], [["rm", "-Rf", "x"], true], [["rm", "--force", "x"], true],
    [["sudo", "rm", "-fr", "x"], true], [["git", "reset", "--hard"], true], [["/usr/bin/git", "rm", "x"], true],
    [["git", "-C", "x", "reset"], true], [["git", "push", "--force"], true], [["git", "push", "+main"], true],
    [["git", "clean", "-fdx"], true], [["rm", "x"], false], [["git", "status"], false], [["git", "push"], false],
    [["git", "clean", "-n"], false], [["ls", "-f"], false],
  ])("%j → %s", (argv, dangerous) => {
    expect(commandMightBeDangerous(argv)).toBe(dangerous);
  });
});
