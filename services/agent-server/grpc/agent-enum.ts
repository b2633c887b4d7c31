// Enum names between the core's strings and protobuf-es enums: the core's value with - or _
// in upper case is the proto value's name (SANDBOX_MODE_WORKSPACE_WRITE ↔ "workspace-write").
import { ErrorCode, TetherError } from "../../common/tether-error.js";

type EnumObject = Record<string, string | number>;

export function toEnum(e: EnumObject, value: string): number {
  const n = e[value.replace(/[-.]/g, "_").toUpperCase()];
  return typeof n === "number" ? n : 0;
}

export function fromEnum<T extends string>(e: EnumObject, value: number, sep: "-" | "_", field: string): T {
  const name = e[value];
  if (typeof name !== "string" || value === 0) throw new TetherError(ErrorCode.InvalidArgument, `${field} is unset or unknown (${value})`);
  return name.toLowerCase().replaceAll("_", sep) as T;
}

