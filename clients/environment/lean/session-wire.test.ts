// SessionWire.events against the generated schemas: the request byte for byte, the response
// field for field for SessionReady, and by case for the members the lean path skips.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { EventsRequestSchema, EventsResponseSchema } from "../../../gen/tether/exec/v1/session_pb.js";
import { SessionWire } from "./process-wire.js";

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const str = fc.string({ unit: "grapheme", maxLength: 12 });

describe("SessionWire.events", () => {
  it("encodes EventsRequest as the generated schema does", () => {
    fc.assert(
      fc.property(str, fc.boolean(), (sessionId, controller) => {
        expect(SessionWire.events.encode({ sessionId, controller })).toEqual(toBinary(EventsRequestSchema, create(EventsRequestSchema, { sessionId, controller })));
      }),
    );
  });

  it("decodes SessionReady field for field", () => {
    fc.assert(
      fc.property(fc.record({ sessionId: str, elicitationCount: u32, pendingEscalations: u32 }), (ready) => {
        const bytes = toBinary(EventsResponseSchema, create(EventsResponseSchema, { event: { case: "ready", value: ready } }));
        expect(SessionWire.events.decode(bytes)).toEqual({ event: { case: "ready", value: ready } });
      }),
    );
  });

  it("names the members it skips, and skips them whole", () => {
    fc.assert(
      fc.property(str, str, u32, (escalationId, processId, count) => {
        const escalation = toBinary(
          EventsResponseSchema,
          create(EventsResponseSchema, { event: { case: "escalation", value: { escalationId, processId, argv: [processId, escalationId] } } }),
        );
        expect(SessionWire.events.decode(escalation)).toEqual({ event: { case: "escalation" } });
        const elicitation = toBinary(EventsResponseSchema, create(EventsResponseSchema, { event: { case: "elicitation", value: { count } } }));
        expect(SessionWire.events.decode(elicitation)).toEqual({ event: { case: "elicitation" } });
        const resolved = toBinary(EventsResponseSchema, create(EventsResponseSchema, { event: { case: "escalationResolved", value: { escalationId } } }));
        expect(SessionWire.events.decode(resolved)).toEqual({ event: { case: "escalationResolved" } });
        expect(SessionWire.events.decode(new Uint8Array(0))).toEqual({ event: { case: undefined } });
      }),
    );
  });
});
