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
const plausiblePage = `<!doctype html><html><head><title>Plausible</title>
  <script type="module">
    import { init, track } from "/node_modules/@plausible-analytics/tracker/plausible.js";
    window.__plausible = true; // the tracker ignores automated browsers unless told otherwise
    init({ domain: "example.org", endpoint: "${collector}/api/event", captureOnLocalhost: true, outboundLinks: true, fileDownloads: true, logging: false });
    window.track = track;
  </script></head><body><h1>Plausible</h1>${links}</body></html>`;

const pages = {
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

const browser = await launch();

async function scenario(name, pagePath, { init, act }) {
  const context = await browser.newContext({ userAgent });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  let sent = 0;
  page.on("request", (r) => { if (r.url().startsWith(collector + "/api/event")) sent++; });
  await page.goto(origin + pagePath);
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
const results = {};
try {
  results.mesure = await scenario("mesure", "/mesure/index.html", { act: mesureActs });
  // Real scrolling to the bottom, 3.5 s on the page, then leaving it: an engagement report.
  results.mesure_long = await scenario("mesure-long", "/mesure/long.html", {
    act: async (page) => {
      await page.mouse.move(200, 200);
      for (let i = 0; i < 10; i++) {
        await page.mouse.wheel(0, 500);
        await page.waitForTimeout(100);
      }
      await page.waitForTimeout(3000);
      await page.goto("about:blank");
    },
  });
  results.mesure_gpc = await scenario("mesure-gpc", "/mesure/gpc.html", {
    init: () => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }),
    act: mesureActs,
  });
  results.mesure_dnt = await scenario("mesure-dnt", "/mesure/dnt.html", {
    init: () => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" }),
    act: mesureActs,
  });
  results.plausible = await scenario("plausible", "/plausible/index.html", {
    act: (page) => interact(page, () => window.track("Purchase", { props: { plan: "pro" } })),
  });
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(results));
