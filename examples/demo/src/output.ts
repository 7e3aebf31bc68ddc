import { stdout } from "node:process";

/** Colour only on a terminal that wants it (https://no-color.org). */
const colour = stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";

const paint =
  (open: number, close: number) =>
  (text: string): string =>
    colour ? `\u001b[${open}m${text}\u001b[${close}m` : text;

export const bold = paint(1, 22);
export const dim = paint(2, 22);
export const green = paint(32, 39);
export const red = paint(31, 39);
export const yellow = paint(33, 39);
export const cyan = paint(36, 39);

/** Where the tour writes its lines (stdout by default; tests collect them). */
export type Write = (line: string) => void;

export const writeStdout: Write = (line) => {
  stdout.write(`${line}\n`);
};

/** Terminal width, capped so lines stay readable. */
export function width(): number {
  return Math.min(stdout.columns ?? 80, 80);
}

/** A milliseconds figure with precision that suits its size. */
export function ms(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  if (value >= 0.1) return `${value.toFixed(2)} ms`;
  return `${value.toFixed(3)} ms`;
}

/** "42x" for how many times faster `fast` was than `slow`. */
export function times(slow: number, fast: number): string {
  if (fast <= 0) return "∞x";
  const ratio = slow / fast;
  return ratio >= 10 ? `${ratio.toFixed(0)}x` : `${ratio.toFixed(1)}x`;
}

export function heading(title: string): string {
  const prefix = `── ${title} `;
  return bold(prefix + "─".repeat(Math.max(3, width() - prefix.length)));
}

/** Left-aligned first column, right-aligned numbers. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ");
  return [bold(format(headers)), ...rows.map(format)];
}
