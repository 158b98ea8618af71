// Real trackers in headless Chromium (Debian's chromium, driven by playwright-core).
//   node browser.mjs COLLECTOR_BASE_URL ARTIFACT_DIR
// Serves small test pages on a free loopback port, then runs each scenario in a fresh browser
// context and prints one JSON object: {scenario: number of requests sent to /api/event}.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch, userAgent } from "./common.mjs";

const collector = process.argv[2];
const artifacts = process.argv[3] || "/tmp";
const root = path.dirname(fileURLToPath(import.meta.url));

const links = `
  <button id="spa" onclick="history.pushState({}, '', location.pathname.replace(/[^/]*$/, 'second'))">next</button>
  <a id="out" href="https://outbound.example/page?ref=x" onclick="event.preventDefault()">elsewhere</a>
  <a id="dl" href="/files/report.pdf" onclick="event.preventDefault()">report</a>`;
const mesurePage = (title) => `<!doctype html><html><head><title>${title}</title>
  <script defer data-domain="example.org" src="${collector}/mesure.js"></script></head>
  <body><h1>${title}</h1>${links}</body></html>`;
const tagged = `
  <button id="tagged" class="plausible-event-name=Tagged+Click plausible-event-color=blue">tagged</button>
  <a id="tagged-link" class="plausible-event-name=Tagged+Link" href="/pl/terms" onclick="event.preventDefault()">terms</a>`;
const plausiblePage = `<!doctype html><html><head><title>Plausible</title>
  <script type="module">
    import { init, track } from "/node_modules/@plausible-analytics/tracker/plausible.js";
    window.__plausible = true; // the tracker ignores automated browsers unless told otherwise
    init({ domain: "example.org", endpoint: "${collector}/api/event", captureOnLocalhost: true, outboundLinks: true, fileDownloads: true, logging: false });
    window.track = track;
  </script></head><body><h1>Plausible</h1>${links}${tagged}</body></html>`;

// Plausible's snippets, the script being ours under Plausible's names: the legacy snippet with
// its queue (a call made before the script loads), and the per-site script with plausible.init.
const queueSnippet = `<script>window.plausible = window.plausible || function() { (window.plausible.q = window.plausible.q || []).push(arguments) }</script>`;

const plausibleScriptPage = (title, script, attrs = "", body = "") => `<!doctype html><html><head><title>${title}</title>
  <script defer data-domain="example.org" ${attrs} src="${collector}/js/${script}"></script>
  ${queueSnippet}<script>plausible("Queued", {props: {early: "yes"}})</script></head>
  <body><h1>${title}</h1>${links}${tagged}${body}</body></html>`;
const perSitePage = `<!doctype html><html><head><title>per-site</title>
  <script async src="${collector}/js/pa-Xy3_example.js"></script>
  <script>
    window.plausible=window.plausible||function(){(plausible.q=plausible.q||[]).push(arguments)},plausible.init=plausible.init||function(i){plausible.o=i||{}};
    plausible.init({ customProperties: { tier: "gold" } })
  </script></head><body><h1>per-site</h1>${links}</body></html>`;
const fullVariant = "script.file-downloads.outbound-links.tagged-events.revenue.pageview-props.js";

const longBody = '<body style="height:4000px">';
const pages = {
  "/plausible/long.html": plausiblePage.replace("<body>", longBody),
  "/plausible/dnt.html": plausiblePage,
  "/plausible/gpc.html": plausiblePage,
  "/plausible/ignored.html": plausiblePage,
  "/pl/long.html": plausibleScriptPage("long", fullVariant).replace("<body>", longBody),
  "/pl/index.html": plausibleScriptPage("variant", fullVariant, 'event-author="Ada"'),
  "/pl/secret.html": plausibleScriptPage("excluded", "script.exclusions.js", 'data-exclude="/pl/secret*, /admin/**"'),
  "/pl/ignored.html": plausibleScriptPage("ignored", fullVariant),
  "/pl/gpc.html": plausibleScriptPage("gpc", fullVariant),
  "/pl/manual.html": plausibleScriptPage("manual", "script.manual.js", "",
    `<script>plausible("pageview", {u: "http://example.org/pl/virtual?x=1"})</script>`),
  "/pl/site.html": perSitePage,
  "/mesure/index.html": mesurePage("mesure"),
  // A page four screens long, read to the end.
  "/mesure/long.html": mesurePage("long").replace("<body>", '<body style="height:4000px">'),
  "/mesure/gpc.html": mesurePage("gpc"),
  "/mesure/dnt.html": mesurePage("dnt"),
  "/plausible/index.html": plausiblePage,
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (pages[url.pathname]) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(pages[url.pathname]);
  }
  if (url.pathname.startsWith("/node_modules/")) {
    const file = path.join(root, path.normalize(url.pathname));
    if (file.startsWith(path.join(root, "node_modules")) && fs.existsSync(file)) {
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(fs.readFileSync(file));
    }
  }
  res.writeHead(404);
  res.end();
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;
// Plausible's scripts ignore pages on localhost (unless the `local` extension says otherwise):
// their pages are served as example.org.
const site = `http://example.org:${server.address().port}`;

const browser = await launch();

async function scenario(name, pagePath, { init, act, host = origin, headers }) {
  const context = await browser.newContext({ userAgent, extraHTTPHeaders: headers });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  let sent = 0;
  page.on("request", (r) => { if (r.url().startsWith(collector + "/api/event")) sent++; });
  await page.goto(host + pagePath);
  await page.waitForLoadState("networkidle");
  await act(page);
  await page.waitForTimeout(700);
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
  await context.close();
  return sent;
}

const interact = async (page, custom) => {
  await page.click("#spa");
  await page.waitForTimeout(150);
  await page.evaluate(custom);
  await page.click("#out");
  await page.click("#dl");
};
const mesureActs = (page) => interact(page, () => window.mesure("Signup", { props: { plan: "pro" } }));
// Real scrolling to the bottom with the wheel, 3 s more on the page, then leaving it.
const readToTheEnd = async (page) => {
  await page.mouse.move(200, 200);
  for (let i = 0; i < 10; i++) {
    await page.mouse.wheel(0, 500);
    await page.waitForTimeout(100);
  }
  await page.waitForTimeout(3000);
  await page.goto("about:blank");
};
const results = {};
try {
  results.mesure = await scenario("mesure", "/mesure/index.html", { act: mesureActs });
  // Real scrolling to the bottom, 3.5 s on the page, then leaving it: an engagement report.
  results.mesure_long = await scenario("mesure-long", "/mesure/long.html", { act: readToTheEnd });
  results.mesure_gpc = await scenario("mesure-gpc", "/mesure/gpc.html", {
    init: () => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }),
    act: mesureActs,
  });
  results.mesure_dnt = await scenario("mesure-dnt", "/mesure/dnt.html", {
    init: () => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" }),
    act: mesureActs,
  });
  // The same clicks and calls with Plausible's own tracker and with our script under
  // Plausible's names (loaded by Plausible's snippets).
  const signup = () => window.plausible("Signup", { props: { plan: "pro" }, revenue: { amount: 12.5, currency: "EUR" } });
  const plausibleActs = async (page) => {
    await interact(page, signup);
    await page.click("#tagged");
    await page.click("#tagged-link");
  };
  results.plausible = await scenario("plausible", "/plausible/index.html", { act: plausibleActs });
  results.plausible_long = await scenario("plausible-long", "/plausible/long.html", { act: readToTheEnd });
  results.variant_long = await scenario("plausible-variant-long", "/pl/long.html", { host: site, act: readToTheEnd });
  // Plausible's tracker sends whatever the browser says; the collector stores nothing from a
  // browser that sends Do-Not-Track or Global Privacy Control. With plausible_ignore, the
  // tracker sends nothing.
  results.plausible_dnt = await scenario("plausible-dnt", "/plausible/dnt.html", { headers: { DNT: "1" }, act: plausibleActs });
  results.plausible_gpc_header = await scenario("plausible-gpc-header", "/plausible/gpc.html", { headers: { "Sec-GPC": "1" }, act: plausibleActs });
  results.plausible_ignored = await scenario("plausible-npm-ignored", "/plausible/ignored.html", {
    init: () => localStorage.setItem("plausible_ignore", "true"),
    act: plausibleActs,
  });
  results.variant = await scenario("plausible-variant", "/pl/index.html", { host: site, act: plausibleActs });
  results.excluded = await scenario("plausible-excluded", "/pl/secret.html", { host: site, act: async () => {} });
  results.ignored = await scenario("plausible-ignored", "/pl/ignored.html", {
    host: site,
    init: () => localStorage.setItem("plausible_ignore", "true"),
    act: plausibleActs,
  });
  results.plausible_gpc = await scenario("plausible-gpc", "/pl/gpc.html", {
    host: site,
    init: () => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }),
    act: plausibleActs,
  });
  // Plausible's localhost rule: the same page on 127.0.0.1 sends nothing.
  results.localhost = await scenario("plausible-localhost", "/pl/index.html", { act: plausibleActs });
  results.manual = await scenario("plausible-manual", "/pl/manual.html", { host: site, act: async () => {} });
  results.per_site = await scenario("plausible-per-site", "/pl/site.html", {
    host: site,
    act: async (page) => {
      await page.waitForFunction(() => typeof window.plausible === "function" && !window.plausible.q);
      await page.evaluate(() => new Promise((resolve) =>
        window.plausible("Callback", { callback: (result) => { window.callbackResult = result; resolve(); } })));
      results.per_site_callback = await page.evaluate(() => window.callbackResult);
    },
  });
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(results));
