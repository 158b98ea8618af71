// What the browser scenarios share: a real desktop Chrome user agent (headless Chromium's own
// says "HeadlessChrome", which is rightly a bot), Debian's Chromium launched with a fresh
// profile, and Matomo's standard tracking code with the collector as its host.
import http from "node:http";
import { chromium } from "playwright-core";

export const userAgent =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

// Playwright gives every launch a fresh, temporary user-data-dir of its own.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // The user agent for the whole browser too: requests made while a page unloads (a beacon
    // on pagehide) would otherwise carry headless Chromium's own, which is rightly a bot's.
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", `--user-agent=${userAgent}`,
      // Test pages can be served as a real site's host name (example.org) from loopback.
      "--host-resolver-rules=MAP example.org 127.0.0.1"],
  });
}

// Matomo's standard tracking code (Administration → Tracking code), the host being the
// collector's; `extra` is pushed before the page view.
export function matomoSnippet(collectorHost, siteId, { extra = "", linkTracking = true } = {}) {
  return `<script>
  var _paq = window._paq = window._paq || [];
  ${extra}
  _paq.push(['trackPageView']);
  ${linkTracking ? "_paq.push(['enableLinkTracking']);" : ""}
  (function() {
    var u="//${collectorHost}/";
    _paq.push(['setTrackerUrl', u+'matomo.php']);
    _paq.push(['setSiteId', '${siteId}']);
    var d=document, g=d.createElement('script'), s=d.getElementsByTagName('script')[0];
    g.async=true; g.src=u+'matomo.js'; s.parentNode.insertBefore(g,s);
  })();
</script>`;
}

// Serves `pages` (path → HTML) on a free loopback port; anything else is 404.
export async function servePages(pages) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (pages[url.pathname]) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(pages[url.pathname]);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}
