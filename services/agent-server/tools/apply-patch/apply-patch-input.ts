// apply_patch's arguments (Codex's name and shape; a freeform call's raw text becomes
// `input`): the one source of both the JSON schema the model is offered
// (tool-parameters.gen.ts, `make tool-schemas`) and the parser of its calls, which the
// registry imports on the first call (zod stays off the start-up path).
import * as z from "zod";

export const applyPatchInput = z.object({ input: z.string().describe("The entire patch, from '*** Begin Patch' to '*** End Patch'.") });

export type ApplyPatchInput = z.infer<typeof applyPatchInput>;
