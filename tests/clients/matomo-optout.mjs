// Matomo's opt-out at Matomo's URLs, served by the collector, as privacy pages embed it: the
// iframe (with and without JavaScript) and optOutJS next to Matomo's own matomo.js, in headless
// Chromium (Debian's chromium, driven by playwright-core), with real clicks.
//   node matomo-optout.mjs COLLECTOR_BASE_URL ARTIFACT_DIR
// Prints one JSON object with what each scenario saw; the Rust test checks what was stored.
import http from "node:http";
import path from "node:path";
import { launch, matomoSnippet, userAgent } from "./common.mjs";

const collector = process.argv[2];
const artifacts = process.argv[3] || "/tmp";
const collectorHost = new URL(collector).host;

const snippet = matomoSnippet(collectorHost, 1, { linkTracking: false });
// The embed codes Matomo's privacy settings give, with the collector as the Matomo URL.
const iframe = `<iframe id="optout" style="border:0;width:100%;height:12em"
  src="${collector}/index.php?module=CoreAdminHome&action=optOut&language=fr&backgroundColor=ffeedd&fontColor=333333&fontSize=14px&fontFamily=Arial"></iframe>`;
const optOutJs = `<div id="matomo-opt-out"></div>
  <script src="${collector}/index.php?module=CoreAdminHome&action=optOutJS&divId=matomo-opt-out&language=auto&showIntro=1"></script>`;
const page = (title, body) => `<!doctype html><html><head><title>${title}</title>${snippet}</head><body><h1>${title}</h1>${body}</body></html>`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const [, kind] = url.pathname.split("/");
  const body = { iframe, js: optOutJs }[kind];
  if (body === undefined) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(page(url.pathname, body));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();

// Opens a page of the site and counts the hits matomo.js sends from it.
async function visit(context, pagePath) {
  const tab = await context.newPage();
  let hits = 0;
  tab.on("request", (r) => { if (r.url().startsWith(collector + "/matomo.php")) hits++; });
  await tab.goto(origin + pagePath);
  await tab.waitForLoadState("networkidle");
  await tab.waitForTimeout(500);
  return { tab, hits: () => hits };
}

const shot = (tab, name) => tab.screenshot({ path: path.join(artifacts, `matomo-optout-${name}.png`) });
const results = {};
try {
  // The iframe, as a privacy page embeds it: untick to opt out, tick to opt back in.
  {
    const context = await browser.newContext({ userAgent });
    const before = await visit(context, "/iframe/before.html");
    const frame = before.tab.frameLocator("#optout");
    results.iframe_intro = await frame.locator("#intro").innerText();
    results.iframe_checked_before = await frame.locator("#trackVisits").isChecked();
    results.iframe_background = await frame.locator("body").evaluate((b) => getComputedStyle(b).backgroundColor);
    results.iframe_font = await frame.locator("body").evaluate((b) => getComputedStyle(b).fontFamily);
    await shot(before.tab, "iframe");
    let popup = context.waitForEvent("page");
    await frame.locator("#trackVisits").click();
    const confirmation = await popup;
    await confirmation.waitForLoadState();
    results.iframe_confirmation = await confirmation.locator("body").innerText();
    await confirmation.close();
    await before.tab.close();

    const after = await visit(context, "/iframe/after.html");
    results.iframe_checked_after = await after.tab.frameLocator("#optout").locator("#trackVisits").isChecked();
    results.iframe_hits_after = after.hits();
    popup = context.waitForEvent("page");
    await after.tab.frameLocator("#optout").locator("#trackVisits").click();
    await (await popup).close();
    await after.tab.close();

    const back = await visit(context, "/iframe/back.html");
    results.iframe_checked_back = await back.tab.frameLocator("#optout").locator("#trackVisits").isChecked();
    await context.close();
  }

  // The iframe page without JavaScript: untick, then the Save button.
  {
    const context = await browser.newContext({ userAgent, javaScriptEnabled: false });
    const tab = await context.newPage();
    await tab.goto(`${collector}/index.php?module=CoreAdminHome&action=optOut&language=en`);
    results.nojs_save_visible = await tab.locator("button[type=submit]").isVisible();
    await tab.locator("#trackVisits").uncheck();
    const popup = context.waitForEvent("page");
    await tab.locator("button[type=submit]").click();
    const confirmation = await popup;
    await confirmation.waitForLoadState();
    results.nojs_confirmation = await confirmation.locator("body").innerText();
    await shot(confirmation, "nojs");
    results.nojs_cookies = (await context.cookies()).map((c) => c.name);
    await context.close();
  }

  // optOutJS on the site's own page, beside matomo.js, in the browser's language (French here).
  {
    const context = await browser.newContext({ userAgent, locale: "fr-FR" });
    const before = await visit(context, "/js/before.html");
    const box = before.tab.locator("#matomo-opt-out-trackVisits");
    await box.waitFor();
    results.js_text_before = await before.tab.locator("#matomo-opt-out").innerText();
    results.js_checked_before = await box.isChecked();
    await box.click();
    results.js_text_opted_out = await before.tab.locator("#matomo-opt-out").innerText();
    await shot(before.tab, "js");
    await before.tab.close();

    const after = await visit(context, "/js/after.html");
    results.js_hits_after = after.hits();
    const state = after.tab.locator("#matomo-opt-out-trackVisits");
    await state.waitFor();
    results.js_checked_after = await state.isChecked();
    results.js_cookies_after = (await context.cookies()).map((c) => c.name).filter((n) => n.startsWith("mtm_"));
    await after.tab.close();

    // Opting back in on a page: matomo.js then sends what it held back on that page (its own
    // behaviour), and tracks again from then on.
    const again = await visit(context, "/js/again.html");
    const box2 = again.tab.locator("#matomo-opt-out-trackVisits");
    await box2.waitFor();
    await box2.click();
    await again.tab.waitForTimeout(500);
    results.js_hits_on_opt_in = again.hits();
    await again.tab.close();

    const back = await visit(context, "/js/back.html");
    results.js_hits_back = back.hits();
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(results));
