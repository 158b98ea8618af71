// Opens the built-in dashboard in headless Chromium, reads the top-line numbers, clicks a
// country to filter, reads them again, reads the pages' load times, and saves screenshots.
//   node dashboard.mjs PAGE_URL ARTIFACT_DIR COUNTRY
// Prints {"before": {...}, "after": {...}, "speed": [[page, views, load time], ...]} as displayed.
import path from "node:path";
import { chromium } from "playwright-core";

const [url, artifacts, country] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const readTop = async (page) => {
  const out = {};
  for (const m of ["visitors", "visits", "pageviews"]) {
    out[m] = (await page.textContent(`#top-${m} .value`)).trim();
  }
  return out;
};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: "en-GB" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Content-Security-Policy violations ("Refused to ...") are console errors.
  page.on("console", (m) => { if (m.text().includes("Content Security Policy")) errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector("#top-visitors .value");
  await page.waitForSelector("#panel-places td button");
  await page.waitForLoadState("networkidle");
  const before = await readTop(page);
  await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });
  // The pages panel's load-time tab: each page with its views and median load time.
  await page.locator("#panel-pages [role=tab]", { hasText: "Load time" }).click();
  await page.waitForSelector("#panel-pages th:has-text('Median load time')");
  await page.waitForLoadState("networkidle");
  const speed = await page.$$eval("#panel-pages tbody tr", (rows) =>
    rows.map((r) => Array.from(r.querySelectorAll("td")).map((td) => td.textContent.trim())));
  await page.screenshot({ path: path.join(artifacts, "dashboard-load-time.png"), fullPage: true });
  // Keyboard: focus the country's row and press Enter.
  await page.locator("#panel-places td button", { hasText: country }).first().focus();
  await page.keyboard.press("Enter");
  await page.waitForSelector("#filters button");
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(300);
  const after = await readTop(page);
  const filters = (await page.textContent("#filters")).trim();
  await page.screenshot({ path: path.join(artifacts, "dashboard-filtered.png"), fullPage: true });
  process.stdout.write(JSON.stringify({ before, after, filters, speed, errors }));
} finally {
  await browser.close();
}
