// Drives the official Matomo Node client (npm matomo-tracker) against a running collector.
//   node matomo.mjs COLLECTOR_BASE_URL
// Sends 3 single hits (a page view, an event, a site search) and a bulk request of 4 page views,
// then prints the bulk answer as JSON on stdout.
import MatomoTracker from "matomo-tracker";

const base = process.argv[2];
const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const tracker = new MatomoTracker(1, `${base}/matomo.php`);
let failed = false;
tracker.on("error", (e) => { console.error("tracker error", e); failed = true; });

// Another browser, so another visitor: the others' visit takes its acquisition from whichever
// of its hits arrives first, and these requests race.
const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
tracker.track({ url: "https://example.org/node/single", action_name: "Node single", ua: firefox, urlref: "https://www.qwant.com/" });
tracker.track({ url: "https://example.org/node/event", e_c: "Video", e_a: "Play", e_n: "Intro", ua });
tracker.track({ url: "https://example.org/node/search", search: "Opening hours", search_count: 4, ua });

const bulk = [1, 2, 3, 4].map((i) => ({ url: `https://example.org/node/bulk/${i}`, action_name: `Bulk ${i}`, ua }));
tracker.trackBulk(bulk, (answer) => {
  process.stdout.write(answer);
  setTimeout(() => process.exit(failed ? 1 : 0), 300);
});
