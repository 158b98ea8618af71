// Piano Analytics' own SDK (piano-analytics-js, loaded from the collector's /piano-analytics.js
// as a site would load it from Piano's CDN, only the host changed) in headless Chromium.
//   node piano-browser.mjs COLLECTOR_BASE_URL
// Serves test pages as http://example.org:PORT (mapped to loopback), runs each scenario in a
// fresh browser context with real clicks, and prints one JSON object: for each scenario, the
// collection requests the SDK sent (URL, body, status) and the requests that failed.
import { launch, servePages, userAgent } from "./common.mjs";

const collector = process.argv[2];

// The SDK's standard set-up, then what the page does; `mode` is the SDK's privacy mode.
const page = (title, { mode = "", script = "" } = {}) => `<!doctype html><html><head><title>${title}</title>
  <script src="${collector}/piano-analytics.js"></script>
  <script>
    pa.setConfigurations({ site: 123456, collectDomain: "${collector}" });
    ${mode ? `pa.privacy.setMode("${mode}");` : ""}
    ${script}
  </script></head>
  <body><h1>${title}</h1>
  <a id="guide" href="/files/guide.pdf" onclick="event.preventDefault(); pa.sendEvent('click.download', { click: '/files/guide.pdf', click_chapter1: 'guides' })">guide</a>
  <a id="out" href="https://www.service-public.fr/particuliers?xtor=1" onclick="event.preventDefault(); pa.sendEvent('click.exit', { click: 'https://www.service-public.fr/particuliers' })">service-public</a>
  <button id="print" onclick="pa.sendEvent('click.action', { click: 'Imprimer', click_chapter1: 'outils' })">print</button>
  <button id="search" onclick="pa.sendEvent('internal_search_result.display', { ise_keyword: 'Horaires', ise_page: 1 })">search</button>
  <button id="form" onclick="pa.sendEvent('form.submit', { form_name: 'contact', form_step: 2 })">form</button>
  </body></html>`;

const display = `pa.sendEvent("page.display", { page: "accueil", page_chapter1: "services", page_chapter2: "etat-civil" });`;
const pages = {
  "/piano/optin.html": page("Accueil Services", { script: display }),
  "/piano/exempt.html": page("Exempt", { mode: "exempt", script: display }),
  "/piano/optout.html": page("Optout", { mode: "optout", script: display }),
  "/piano/dnt.html": page("DNT", { script: display }),
};

const server = await servePages(pages);
const origin = `http://example.org:${server.address().port}`;

const browser = await launch();

async function scenario(pagePath, { clicks = [], headers = {} } = {}) {
  const context = await browser.newContext({ userAgent, extraHTTPHeaders: headers });
  const tab = await context.newPage();
  const sent = [];
  const failures = [];
  const pending = new Set();
  tab.on("request", (request) => {
    if (new URL(request.url()).pathname === "/event") {
      pending.add(request);
      sent.push({ url: request.url(), body: JSON.parse(request.postData() || "{}") });
    }
  });
  tab.on("requestfinished", (request) => pending.delete(request));
  tab.on("requestfailed", (request) => {
    pending.delete(request);
    failures.push(`${request.url()}: ${request.failure()?.errorText}`);
  });
  await tab.goto(origin + pagePath);
  await tab.waitForLoadState("networkidle");
  for (const id of clicks) {
    await tab.click(`#${id}`);
  }
  // Every event the SDK queued has been sent and answered.
  for (let i = 0; i < 50 && (sent.length < 1 + clicks.length || pending.size > 0); i++) {
    await tab.waitForTimeout(100);
  }
  await context.close();
  return { sent, failures };
}

const all = ["guide", "out", "print", "search", "form"];
const seen = {
  optin: await scenario("/piano/optin.html", { clicks: all }),
  exempt: await scenario("/piano/exempt.html", { clicks: ["guide", "form"] }),
  optout: await scenario("/piano/optout.html", { clicks: ["print"] }),
  dnt: await scenario("/piano/dnt.html", { clicks: ["print"], headers: { DNT: "1" } }),
};
await browser.close();
server.close();
console.log(JSON.stringify(seen));
