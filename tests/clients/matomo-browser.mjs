// Matomo's own matomo.js, loaded from the collector by Matomo's standard snippet with only the
// host changed, in headless Chromium (Debian's chromium, driven by playwright-core).
//   node matomo-browser.mjs COLLECTOR_BASE_URL ARTIFACT_DIR
// Serves test pages on a free loopback port, runs each scenario in a fresh browser context with
// real clicks, and prints one JSON object with what each scenario saw in the browser.
import path from "node:path";
import { launch, matomoSnippet, servePages, userAgent } from "./common.mjs";

const collector = process.argv[2];
const artifacts = process.argv[3] || "/tmp";
const collectorHost = new URL(collector).host;

const page = (title, siteId, extra) => `<!doctype html><html><head><title>${title}</title>
  ${matomoSnippet(collectorHost, siteId, { extra })}</head>
  <body><h1>${title}</h1>
  <a id="out" href="https://outbound.example/page?ref=x" onclick="event.preventDefault()">elsewhere</a>
  <a id="dl" href="/files/report.pdf" onclick="event.preventDefault()">report</a>
  </body></html>`;

const pages = {
  "/matomo/index.html": page("Matomo", 1),
  "/matomo/cookie.html": page("Cookie site", 2),
  // matomo.js's XHR path: POST requests without sendBeacon.
  "/matomo/xhr.html": page("XHR", 1, "_paq.push(['setRequestMethod', 'POST']); _paq.push(['disableAlwaysUseSendBeacon']);"),
  "/matomo/ignored.html": page("Ignored", 1),
  // More of what sites do with Matomo: a search results page, content blocks, a link to a second page.
  "/matomo/actions.html": `<!doctype html><html><head><title>Actions</title>
    ${matomoSnippet(collectorHost, 1, { extra: "_paq.push(['trackAllContentImpressions']);" })}</head>
    <body><h1>Actions</h1>
    <div data-track-content data-content-name="Spring banner" data-content-piece="spring.png" data-content-target="https://example.org/sale?ref=home">
      <a id="sale" href="https://example.org/sale" onclick="event.preventDefault()">Sale</a></div>
    <a id="next" href="/matomo/second.html">next page</a></body></html>`,
  "/matomo/second.html": page("Second", 1),
  "/matomo/shop.html": page("Shop", 1),
  // A product page: the product view goes with the page view.
  "/matomo/product.html": page("Product", 1, "_paq.push(['setEcommerceView', 'SKU1', 'Mug', 'Kitchen', 12.5]);"),
  "/matomo/windows.html": page("Windows", 1),
  "/matomo/android.html": page("Android", 1),
  // Matomo's heartbeat, at its shortest delay (5 s): a ping when the visitor leaves the page.
  "/matomo/heartbeat.html": page("Heartbeat", 1, "_paq.push(['enableHeartBeatTimer', 5]);"),
};

// Chromium's frozen user agents and the client hints it gives beside them (what
// navigator.userAgentData and the Sec-CH-UA headers say), as on Windows 11 and Android 14.
const brands = (v) => [{ brand: "Google Chrome", version: v }, { brand: "Chromium", version: v }, { brand: "Not_A Brand", version: "24" }];
const devices = {
  windows: {
    userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    userAgentMetadata: { brands: brands("131"), fullVersionList: brands("131.0.6778.85"), platform: "Windows",
      platformVersion: "15.0.0", architecture: "x86", model: "", mobile: false },
  },
  android: {
    userAgent: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    userAgentMetadata: { brands: brands("131"), fullVersionList: brands("131.0.6778.81"), platform: "Android",
      platformVersion: "14.0.0", architecture: "", model: "Pixel 8", mobile: true },
  },
};

const server = await servePages(pages);
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();

async function scenario(name, pagePath, { cookies = [], act = async () => {}, device = null } = {}) {
  const context = await browser.newContext({ userAgent: device ? device.userAgent : userAgent });
  if (cookies.length) await context.addCookies(cookies);
  const tab = await context.newPage();
  if (device) {
    // The browser's own client hints (navigator.userAgentData and the Sec-CH-UA headers).
    const cdp = await context.newCDPSession(tab);
    await cdp.send("Emulation.setUserAgentOverride", device);
  }
  const requests = [];
  const failures = [];
  tab.on("request", (r) => {
    if (r.url().startsWith(collector + "/matomo.php")) requests.push(r.method());
  });
  tab.on("requestfailed", (r) => {
    if (r.url().startsWith(collector)) failures.push(`${r.method()} ${r.failure()?.errorText}`);
  });
  const script = tab.waitForResponse((r) => r.url() === collector + "/matomo.js");
  await tab.goto(origin + pagePath);
  const scriptResponse = await script;
  await tab.waitForLoadState("networkidle");
  await act(tab);
  await tab.waitForTimeout(1000);
  await tab.screenshot({ path: path.join(artifacts, `matomo-${name}.png`) });
  const now = Date.now() / 1000;
  const matomoCookies = (await context.cookies())
    .filter((c) => c.name.startsWith("_pk_") || c.name.startsWith("mtm_"))
    .map((c) => ({ name: c.name, days: Math.round((c.expires - now) / 86400) }));
  await context.close();
  return { requests, failures, cookies: matomoCookies, script: scriptResponse.status() };
}

// Real clicks, then a custom event through the queue.
const interact = async (tab) => {
  await tab.click("#out");
  await tab.click("#dl");
  await tab.evaluate(() => window._paq.push(["trackEvent", "Video", "Play", "Intro"]));
};

const results = {};
try {
  results.cookieless = await scenario("cookieless", "/matomo/index.html", { act: interact });
  results.cookie_mode = await scenario("cookie-mode", "/matomo/cookie.html");
  results.xhr = await scenario("xhr", "/matomo/xhr.html", {
    act: (tab) => tab.evaluate(() => window._paq.push(["trackEvent", "Video", "Play", "XHR"])),
  });
  // A search results page (?q=…), a single-page-app navigation with a custom dimension, an
  // explicit site search, a goal, content impressions, then a real link to a second page.
  results.actions = await scenario("actions", "/matomo/actions.html?q=Opening+Hours", {
    act: async (tab) => {
      // A real click on the content block's link: a content interaction.
      await tab.click("#sale");
      await tab.waitForTimeout(300);
      // A Media Analytics request (not stored yet: declined and counted).
      await tab.evaluate(() => window._paq.push(["trackRequest", "ca=1&ma_id=video1&ma_ti=Intro&ma_st=10"]));
      await tab.evaluate(() => {
        history.pushState({}, "", "/matomo/spa.html");
        window._paq.push(["setCustomUrl", location.href]);
        window._paq.push(["setDocumentTitle", "SPA"]);
        window._paq.push(["setCustomDimension", 1, "gold"]);
        window._paq.push(["trackPageView"]);
        window._paq.push(["trackSiteSearch", "Horaires", "pages", 3]);
        window._paq.push(["trackGoal", 3, 19.9]);
      });
      await tab.waitForTimeout(500);
      await Promise.all([tab.waitForURL("**/matomo/second.html"), tab.click("#next")]);
      await tab.waitForLoadState("networkidle");
    },
  });
  // A shop: a cart update, then an order, with their items.
  results.shop = await scenario("shop", "/matomo/shop.html", {
    act: async (tab) => {
      await tab.evaluate(() => {
        window._paq.push(["addEcommerceItem", "SKU1", "Mug", "Kitchen", 12.5, 1]);
        window._paq.push(["addEcommerceItem", "SKU2", "Tea", ["Food", "Tea"], 6.5, 2]);
        window._paq.push(["trackEcommerceCartUpdate", 25.5]);
      });
      await tab.waitForTimeout(300);
      await tab.evaluate(() => window._paq.push(["trackEcommerceOrder", "A-10", 30.5, 25.5, 4.25, 5, 1.5]));
    },
  });
  results.product = await scenario("product", "/matomo/product.html");
  // Client hints: Windows 11 and Android 14 behind Chromium's frozen user agents.
  results.windows = await scenario("windows", "/matomo/windows.html", { device: devices.windows });
  results.android = await scenario("android", "/matomo/android.html", { device: devices.android });
  // A visitor stays 6 s on a page with the heartbeat on, then leaves it.
  results.heartbeat = await scenario("heartbeat", "/matomo/heartbeat.html", {
    act: async (tab) => {
      await tab.waitForTimeout(6000);
      await tab.goto("about:blank");
    },
  });
  // A browser that opted out with an earlier Matomo install: its opt-out cookie on the tracker's host.
  results.ignored = await scenario("ignored", "/matomo/ignored.html", {
    cookies: [{ name: "matomo_ignore", value: "*", domain: "127.0.0.1", path: "/" }],
    act: interact,
  });
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(results));
