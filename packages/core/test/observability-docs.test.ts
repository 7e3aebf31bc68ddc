import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { INSTRUMENTS, LOAD_SPAN } from "../src/observability/index.js";

const readme = (path: string) => readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8");

describe("the READMEs' Observability sections", () => {
  it.each([
    ["README.md", "../../../README.md"],
    ["packages/core/README.md", "../README.md"],
  ])("%s lists every instrument with its unit", (_name, path) => {
    const text = readme(path);
    expect(text).toContain("## Observability");
    for (const instrument of Object.values(INSTRUMENTS)) {
      expect(text).toContain(`| \`${instrument.name}\` | ${instrument.kind} | \`${instrument.unit}\` |`);
    }
    expect(text).toContain(`\`${LOAD_SPAN.name}\``);
  });
});
