import { describe, expect, it } from "vitest";
import {
  ATTACH_MERGE_BYTES,
  CLIENT_STREAM_WINDOW_BYTES,
  DEFAULT_RESUME_HISTORY_BYTES,
  checkResumeHistory,
  minResumeHistoryBytes,
} from "./resume-window.js";
import { ErrorCode } from "./tether-error.js";

describe("resume window", () => {
  it("keeps the default resume history above the client window plus one merged Attach message", () => {
    expect(minResumeHistoryBytes()).toBe(CLIENT_STREAM_WINDOW_BYTES + ATTACH_MERGE_BYTES);
    expect(DEFAULT_RESUME_HISTORY_BYTES).toBeGreaterThanOrEqual(minResumeHistoryBytes());
    expect(() => checkResumeHistory(DEFAULT_RESUME_HISTORY_BYTES)).not.toThrow();
    expect(() => checkResumeHistory(minResumeHistoryBytes() - 1)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });

});
