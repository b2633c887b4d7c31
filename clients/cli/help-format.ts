// How `--help` describes an option: commander's "(default: …)" minus its noise. A repeatable
// flag's empty list is not a default worth printing ("(default: [])" on every -c), and a
// number given as a string reads as a number ("(default: 300000)", not "\"300000\"").
import type { Option } from "commander";

function shownDefault(option: Option): string | undefined {
  if (option.defaultValueDescription !== undefined) return option.defaultValueDescription;
  const value: unknown = option.defaultValue;
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  // A flag without a value defaults to off: saying so adds nothing.
  if (!option.required && !option.optional) return undefined;
  if (typeof value === "string" && /^\d+$/.test(value)) return value;
  return JSON.stringify(value);
}

export function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(", ")}`);
  const shown = shownDefault(option);
  if (shown !== undefined) extra.push(`default: ${shown}`);
  if (option.envVar !== undefined) extra.push(`env: ${option.envVar}`);
  return extra.length > 0 ? `${option.description} (${extra.join(", ")})` : option.description;
}
