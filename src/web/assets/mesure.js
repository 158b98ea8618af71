/*! mesure.js: privacy-first page analytics. No cookies. Nothing is sent when the browser says
 Do-Not-Track or Global Privacy Control, or the visitor opted out. Apache-2.0. */
(function (w, d, n, l) {
  var s = d.currentScript;
  if (!s) return;
  var api = s.getAttribute("data-api") || new URL(s.src).origin + "/api/event";
  var domain = s.getAttribute("data-domain") || l.hostname;
  var hashMode = s.hasAttribute("data-hash-mode");
  var files = /\.(pdf|zip|rar|7z|gz|tar|dmg|exe|msi|apk|docx?|xlsx?|pptx?|odt|ods|odp|csv|txt|rtf|epub|mp3|mp4|mov|avi|wav)$/i;
  var last;

  function off() {
    try {
      if (localStorage.getItem("mesure_ignore") === "true") return true;
    } catch (e) {}
    return n.doNotTrack === "1" || w.doNotTrack === "1" || n.msDoNotTrack === "1" ||
      n.globalPrivacyControl === true || /(^|;\s*)mesure_optout=1/.test(d.cookie);
  }

  function send(name, o) {
    if (off()) return;
    o = o || {};
    var b = { n: name, u: o.u || l.href, d: domain, r: d.referrer || null };
    if (o.props) b.p = o.props;
    if (o.revenue) b.$ = o.revenue;
    if (o.interactive === false) b.i = false;
    if (name === "engagement") { b.sd = o.sd; b.e = o.e; }
    if (hashMode) b.h = 1;
    var body = JSON.stringify(b);
    // sendBeacon survives the page unloading; fetch with keepalive where it is missing.
    if (n.sendBeacon && n.sendBeacon(api, new Blob([body], { type: "text/plain" }))) return;
    fetch(api, { method: "POST", body: body, keepalive: true, credentials: "include",
      headers: { "Content-Type": "text/plain" } }).catch(function () {});
  }

  // Engagement, as Plausible's tracker reports it: how far down the page was read (the deepest
  // point, %) and how long it was visible since the last report (ms), sent when the page is
  // hidden or left and before a single-page-app navigation, once it was seen for 3 s.
  var depth, shown, since, sentDepth, sentShown, url;
  function scrolled() {
    var h = Math.max(d.body ? d.body.scrollHeight : 0, d.documentElement.scrollHeight);
    depth = Math.max(depth, Math.min(100, Math.round((w.scrollY + w.innerHeight) / h * 100)));
  }
  function engage() {
    if (since) shown += Date.now() - since;
    since = d.visibilityState === "visible" ? Date.now() : 0;
    if (shown >= 3000 && (depth > sentDepth || shown - sentShown >= 3000)) {
      send("engagement", { u: url, interactive: false, sd: depth, e: shown - sentShown });
      sentDepth = depth;
      sentShown = shown;
    }
  }
  d.addEventListener("visibilitychange", engage);
  w.addEventListener("pagehide", engage);
  w.addEventListener("scroll", scrolled, { passive: true });

  function page() {
    var here = l.pathname + (hashMode ? l.hash : "");
    if (here === last) return;
    if (last) engage();
    last = here;
    url = l.href;
    depth = shown = sentShown = 0;
    sentDepth = -1;
    since = Date.now();
    scrolled();
    send("pageview");
  }

  // Single-page apps: every History API navigation is a page view.
  ["pushState", "replaceState"].forEach(function (m) {
    var f = history[m];
    if (f) history[m] = function () { var r = f.apply(this, arguments); page(); return r; };
  });
  w.addEventListener("popstate", page);
  if (hashMode) w.addEventListener("hashchange", page);

  // Outbound links and file downloads.
  d.addEventListener("click", function (e) {
    var a = e.target && e.target.closest && e.target.closest("a[href]");
    if (!a || !/^https?:$/.test(a.protocol)) return;
    if (a.host !== l.host) send("Outbound Link: Click", { props: { url: a.href } });
    else if (files.test(a.pathname)) send("File Download", { props: { url: a.href } });
  }, true);

  // Custom events: mesure("Signup", {props: {plan: "pro"}}); calls made before the script
  // loaded wait in mesure.q.
  var queued = (w.mesure && w.mesure.q) || [];
  w.mesure = function (name, o) { send(name, o); };
  for (var i = 0; i < queued.length; i++) send(queued[i][0], queued[i][1]);
  page();
})(window, document, navigator, location);
