// update_plan's arguments (Codex's names and shape): the one source of both the JSON schema
// the model is offered (tool-parameters.gen.ts, `make tool-schemas`) and the parser of its
// calls, which the registry imports on the first call (zod stays off the start-up path).
import * as z from "zod";

export const updatePlanInput = z
  .object({
    explanation: z.string().optional().describe("Why the plan changed, in a sentence (optional)."),
    plan: z
      .array(
        z.object({
          step: z.string().min(1).describe("What to do, in a few words."),
          status: z.enum(["pending", "in_progress", "completed"]),
        }),
      )
      .max(50)
      .describe("The whole plan, in order."),
  })
  .refine((v) => v.plan.filter((s) => s.status === "in_progress").length <= 1, {
    message: "at most one step may be in_progress at a time",
    path: ["plan"],
  });

export type UpdatePlanInput = z.infer<typeof updatePlanInput>;
