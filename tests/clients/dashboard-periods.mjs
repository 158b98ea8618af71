// The dashboard's chart for each kind of period, in headless Chromium: selects each period (and
// a custom range typed into the date inputs, the previous-period arrow, the comparison switch,
// a bookmarked address), reads what the chart drew (its buckets, first and last, empty buckets,
// the x axis' bounds, the comparison series) and saves a screenshot of each.
//   node dashboard-periods.mjs PAGE_URL ARTIFACT_DIR FROM TO
// Prints one JSON object: {step: {bucket, buckets, first, last, zeros, previous, min, max, url}}.
import path from "node:path";
import { launch } from "./common.mjs";

const [url, artifacts, from, to] = process.argv.slice(2);
const browser = await launch();
const out = { errors: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const page = await context.newPage();
  page.on("pageerror", (e) => out.errors.push(String(e)));
  page.on("console", (m) => { if (m.text().includes("Content Security Policy")) out.errors.push(m.text()); });
  page.on("response", (r) => {
    if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) out.errors.push(`${r.status()} ${r.url()}`);
  });
  // The chart marks itself loading until it is drawn for the current view.
  const settle = async () => {
    await page.waitForTimeout(100);
    await page.waitForSelector("#chart[data-buckets]:not([data-loading])");
    await page.waitForLoadState("networkidle");
    await page.waitForTimeout(200);
  };
  const read = async (step) => {
    await settle();
    out[step] = await page.$eval("#chart", (b) => ({
      bucket: b.dataset.bucket, buckets: Number(b.dataset.buckets), first: b.dataset.first, last: b.dataset.last,
      zeros: Number(b.dataset.zeros), previous: b.dataset.previous, min: b.dataset.axisMin, max: b.dataset.axisMax,
    }));
    out[step].url = page.url();
    out[step].range = await page.$eval("#range", (s) => s.value);
    await page.screenshot({ path: path.join(artifacts, `dashboard-period-${step}.png`), fullPage: false });
  };
  await page.goto(url);
  await page.waitForSelector("#chart[data-buckets]");
  await read("7d");
  out.live = (await page.textContent("#live")).trim();
  // Hovering the last bucket shows its date and value in the legend.
  const plot = await page.$("#chart .u-over");
  const box = await plot.boundingBox();
  await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  await page.waitForTimeout(200);
  out.hover = (await page.textContent("#chart .u-legend")).replace(/\s+/g, " ").trim();
  for (const period of ["today", "30d", "month", "year"]) {
    await page.selectOption("#range", period);
    await read(period);
  }
  // A custom range: the date inputs, then Apply from the keyboard.
  await page.selectOption("#range", "custom");
  await page.fill("#from", from);
  await page.fill("#to", to);
  await page.focus("#apply");
  await page.keyboard.press("Enter");
  await read("custom");
  // The last 7 days, then the 7 before them with the arrow.
  await page.selectOption("#range", "7d");
  await settle();
  await page.click("#prev");
  await read("previous");
  // Comparison off: no second series.
  await page.uncheck("#compare");
  await read("uncompared");
  // A bookmarked view opens as it was.
  const bookmark = new URL(url);
  bookmark.search = "?period=30d&compare=0";
  await page.goto(bookmark.toString());
  await page.waitForSelector("#chart[data-buckets]");
  await read("bookmarked");
  out.bookmarked.compare = await page.isChecked("#compare");
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
