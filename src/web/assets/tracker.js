/*! mesure, Apache-2.0 */
// One source for mesure.js and every Plausible script name (src/web/tracker.rs). Lines between
// "//#if feature" and "//#endif" (or "//#else") are kept only in the scripts with that feature;
// comments and spaces are left out of what is served, and these local names are shortened
// (never name a property or an object key "key:" after "{" or "," with one of them):
//#short opts page name attr hashMode url track tagged local depth shown since api manual sentShown isPage done last tag found body sentDepth engage click start link scrolled here queued match inc exc href domain files off excluded extra options path
(function (w, d, n, l) {
  var s = d.currentScript || d.getElementById("plausible");
  var attr = function (a) { return s.getAttribute(a); };
  var api = attr("data-api") || new URL(s.src).origin + "/api/event";
  var domain = attr("data-domain") || l.hostname;
  var hashMode, manual, local, o = {};
//#if mesure
  var g = "mesure";
  hashMode = s.hasAttribute("data-hash-mode");
  local = 1;
//#else
  var g = "plausible";
//#endif
//#if hash
  hashMode = 1;
//#endif
//#if manual
  manual = 1;
//#endif
//#if local
  local = 1;
//#endif
//#if file-downloads
  // Plausible's list, or the script's file-types / add-file-types attributes.
  var files = (attr("file-types") || (attr("add-file-types") || "") + ",pdf,xlsx,docx,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,wmv,midi,mp3,wav,wma,dmg").split(",");
//#endif

  function off() {
    try {
      if (localStorage.plausible_ignore == "true" || localStorage.mesure_ignore == "true") return 1;
    } catch (e) {}
    return n.doNotTrack == "1" || n.globalPrivacyControl || /(^|;\s*)mesure_optout=1/.test(d.cookie) ||
      !local && (/^localhost$|^127(\.\d+){0,2}\.\d+$|^\[::1?\]$/.test(l.hostname) || l.protocol == "file:");
  }
//#if exclusions

  // data-include / data-exclude: comma-separated paths where * is one segment and ** any.
  function excluded() {
    var path = l.pathname + (hashMode ? l.hash : "");
    var match = function (p) {
      return new RegExp("^" + p.trim().replace(/\*\*/g, ".*").replace(/([^.])\*/g, "$1[^\\s/]*") + "/?$").test(path);
    };
    var inc = attr("data-include"), exc = attr("data-exclude");
    return inc && !inc.split(",").some(match) || exc && exc.split(",").some(match);
  }
//#endif

  // Engagement, as Plausible's tracker reports it: how far down the page was read (the deepest
  // point, %) and how long it was visible since the last report (ms), sent when the page is
  // hidden or left and before the next page view, once it was seen for 3 s.
  var depth, shown, since, sentDepth, sentShown, url;
  function scrolled() {
    var h = d.documentElement.scrollHeight;
    depth = Math.max(depth, Math.min(100, Math.round((w.scrollY + w.innerHeight) / h * 100)));
  }
  function engage() {
    if (!url) return;
    if (since) shown += Date.now() - since;
    since = d.visibilityState == "visible" ? Date.now() : 0;
    if (shown >= 3000 && (depth > sentDepth || shown - sentShown >= 3000)) {
      track("engagement", { u: url, interactive: false, sd: depth, e: shown - sentShown });
      sentDepth = depth;
      sentShown = shown;
    }
  }

  // plausible(name, {props, revenue, interactive, callback, u}) and mesure(name, {...}).
  function track(name, opts) {
    opts = opts || {};
    var isPage = name == "pageview", done = opts.callback || function () {};
    if (isPage) engage();
    if (off()
//#if exclusions
      || isPage && excluded()
//#endif
    ) {
      if (isPage) url = 0;
      return done();
    }
    var b = { n: name, u: opts.u || opts.url || l.href, d: o.domain || domain, r: d.referrer || null };
    var p = opts.props || opts.meta;
//#if pageview-props
    // event-<prop>="value" attributes of the script tag go with every event.
    p = p || {};
    s.getAttributeNames().forEach(function (a) {
      if (a.slice(0, 6) == "event-") p[a.slice(6)] = p[a.slice(6)] || attr(a);
    });
//#endif
//#if config
    var c = o.customProperties;
    if (typeof c == "function") c = c(name);
    if (c) p = Object.assign({}, c, p);
//#endif
    if (p) b.p = p;
    if (opts.revenue) b.$ = opts.revenue;
    if (opts.interactive === false) b.i = false;
    if (name == "engagement") { b.sd = opts.sd; b.e = opts.e; }
    if (hashMode) b.h = 1;
//#if config
    if (o.transformRequest && !(b = o.transformRequest(b))) return done();
//#endif
    if (isPage) {
      url = b.u;
      depth = shown = sentShown = 0;
      sentDepth = -1;
      since = Date.now();
      scrolled();
    }
    var body = JSON.stringify(b);
    // sendBeacon survives the page unloading; fetch with keepalive when a callback wants the
    // answer or sendBeacon is missing. A string body goes as text/plain, which needs no CORS
    // preflight.
    if (!opts.callback && n.sendBeacon && n.sendBeacon(api, body)) return;
    fetch(api, { method: "POST", body: body, keepalive: true, credentials: "include" })
      .then(function (r) { done({ status: r.status }); }, function (e) { done({ error: e }); });
  }

  var last;
  function page() {
    var here = l.pathname + (hashMode ? l.hash : "");
    if (here == last) return;
    last = here;
    track("pageview");
  }
//#if tagged-events

  // Tagged events: class="plausible-event-name=Signup plausible-event-plan=pro" on the element
  // clicked or a parent (3 levels), or on a form (or its parent) when it is submitted.
  var tagged = function (e) {
    return /(^|\s)plausible-event-name(=|--)\S/.test(e.className);
  };
  function tag(e, extra) {
    var a = { props: extra || {} }, r = {}, c = (e.className + "").split(/\s+/), m;
    for (var i = 0; i < c.length; i++) {
      if (!(m = c[i].match(/plausible-(event|revenue)-(.+)(=|--)(.+)/))) continue;
      var v = m[4].replace(/\+/g, " ");
      if (m[1] == "revenue") r[m[2]] = v;
      else if (m[2].toLowerCase() == "name") a.name = v;
      else a.props[m[2]] = v;
    }
//#if revenue
    if (r.amount) a.revenue = r;
//#endif
    if (a.name) track(a.name, a);
  }
  d.addEventListener("submit", function (e) {
    var f = e.target;
    if (tagged(f)) tag(f); else if (tagged(f.parentNode)) tag(f.parentNode);
  }, true);
//#endif
//#if outbound-links file-downloads tagged-events

  // Outbound links and file downloads (and tagged elements), left or middle click.
  function click(e) {
    if (e.type == "auxclick" && e.button != 1) return;
    var a = e.target.closest("a[href]");
//#if tagged-events
    var t = e.target, link, found;
    for (var i = 0; t && i < 4; i++, t = t.parentNode) {
      if (t.tagName == "FORM") { found = 0; break; }
      if (t.tagName == "A" && t.href) link = t;
      if (tagged(t)) found = t;
    }
    if (found) return tag(found, link && { url: link.href });
//#endif
    if (!a || !a.host) return;
//#if outbound-links
    if (a.host != l.host) return track("Outbound Link: Click", { props: { url: a.href } });
//#endif
//#if file-downloads
    var href = a.href.split("?")[0];
    if (files.indexOf(href.split(".").pop()) >= 0) track("File Download", { props: { url: href } });
//#endif
  }
  d.addEventListener("click", click, true);
  d.addEventListener("auxclick", click, true);
//#endif

  function start(options) {
    o = options || {};
//#if config
    api = o.endpoint || api;
    if (o.hashBasedRouting) hashMode = 1;
    if (o.autoCapturePageviews === false) manual = 1;
    if (o.captureOnLocalhost) local = 1;
//#endif
    d.addEventListener("visibilitychange", engage);
    w.addEventListener("pagehide", engage);
    w.addEventListener("scroll", scrolled, { passive: true });
    // Calls made before the script loaded wait in plausible.q (mesure.q).
    var queued = (w[g] && w[g].q) || [];
    w[g] = track;
    for (var i = 0; i < queued.length; i++) track.apply(null, queued[i]);
    if (manual) return;
    // Single-page apps: every History API navigation is a page view.
    ["pushState", "replaceState"].forEach(function (m) {
      var f = history[m];
      if (f) history[m] = function () { var r = f.apply(this, arguments); page(); return r; };
    });
    w.addEventListener("popstate", page);
    if (hashMode) w.addEventListener("hashchange", page);
    if (d.visibilityState != "prerender") return page();
    d.addEventListener("visibilitychange", function () {
      if (!last && d.visibilityState == "visible") page();
    });
  }
//#if config
  // The per-site script takes its settings from plausible.init({...}), called before or after
  // it loads.
  var q = w.plausible;
  if (q && q.o) start(q.o);
  else (w.plausible = q || function () { (w.plausible.q = w.plausible.q || []).push(arguments); }).init = start;
//#else
  start();
//#endif
})(window, document, navigator, location);
