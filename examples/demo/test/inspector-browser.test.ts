import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp } from "@pgcachewatch/example-drizzle";
import { useTestDatabase } from "@pgcachewatch/testdb/vitest";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoSchema } from "../src/index.js";

/** Debian's package (`apt-get install -y chromium`); .ci/run installs it when missing. */
const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bench/results/inspector.png");
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  const reason = `inspector browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  // CI installs it: there, a missing browser is a failure, not a skip.
  if (process.env.CI === "true") throw new Error(reason);
  console.warn(`\n!!! ${reason}\n`);
}

const db = useTestDatabase("inspector_browser");

/** What the conditions below read of the page's DOM. */
interface PageGlobals {
  document: {
    getElementById(id: string): { dataset: Record<string, string | undefined> } | null;
    querySelector(selector: string): { textContent: string | null } | null;
  };
}

describe.skipIf(!haveChromium)("the inspector page in Chromium", () => {
  let browser: Browser;
  let example: ReturnType<typeof buildApp>;
  let base: string;

  beforeAll(async () => {
    await createDemoSchema(db.url);
    example = buildApp({ databaseUrl: db.url, inspector: "/inspector" });
    base = await example.app.listen({ host: "127.0.0.1", port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await example?.app.close();
  });

  // These conditions run in the page (its CSP forbids eval: functions, not strings). This Node-side
  // file has no DOM types, so the page's document is reached through a small structural type.

  /** Wait until the element matching `selector` contains `text` (the page re-renders every poll). */
  const waitForText = (page: Page, selector: string, text: string) =>
    page.waitForFunction(
      ([sel, want]) =>
        (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent?.includes(want) ===
        true,
      [selector, text] as const,
      { timeout: 10_000 },
    );

  /** Wait until a KPI tile's number is at least `min` (exactly `min` when `exact`). */
  const waitForKpi = (page: Page, id: string, min: number, exact = false) =>
    page.waitForFunction(
      ([tile, want, only]) => {
        const raw = (globalThis as unknown as PageGlobals).document.getElementById(tile)?.dataset.value;
        if (raw === undefined || raw === "") return false;
        return only ? Number(raw) === want : Number(raw) >= want;
      },
      [id, min, exact] as const,
      { timeout: 10_000 },
    );

  /** The number a KPI tile shows (its data-value), once the page rendered one. */
  const kpi = async (page: Page, id: string): Promise<number> =>
    Number(await page.locator(`#${id}`).getAttribute("data-value"));

  it("shows the app's reads, and an external write changes the page's numbers", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(`${base}/inspector`);
    await waitForText(page, "#title", "Drizzle example");
    await waitForKpi(page, "kpi-hits", 0, true);
    await waitForText(page, "#state", "serving");
    expect(await kpi(page, "kpi-invalidations")).toBe(1); // the flush when the listener became ready

    // A miss and two hits through the app.
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${base}/posts/2`);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    await waitForKpi(page, "kpi-hits", 2, true);
    expect(await kpi(page, "kpi-misses")).toBe(1);
    expect(await kpi(page, "kpi-entries")).toBe(1);
    await waitForText(page, "#chart-tables", "public.users");
    await waitForText(page, "#queries td.shape", 'from "posts" inner join "users"');

    // Another service writes, on its own connection: the page shows the event and the invalidation.
    const writer = await db.externalWriter();
    await writer.query("UPDATE users SET name = 'Grace B. Hopper' WHERE id = 2");
    await waitForKpi(page, "kpi-events", 1);
    await waitForKpi(page, "kpi-entries", 0, true);
    expect(await kpi(page, "kpi-invalidations")).toBeGreaterThanOrEqual(2);
    await waitForText(page, "#chart-invalidations", "public.users");
    await page.locator("#chart-latency svg").waitFor({ state: "visible" });

    // The next read misses and sees the write; the page follows.
    const fresh = (await (await fetch(`${base}/posts/2`)).json()) as { author: string };
    expect(fresh.author).toBe("Grace B. Hopper");
    await waitForKpi(page, "kpi-misses", 2, true);
    // The hit-ratio chart has its line once two samples exist.
    await page.locator("#chart-ratio path").waitFor({ state: "attached", timeout: 10_000 });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
