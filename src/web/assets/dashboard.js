// mesure's built-in dashboard: reads the panel definitions (/assets/panels.json) and asks the
// stats API for each. No framework, no CDN. Credentials: a share link (/share/SECRET), a
// sign-in session (a token typed in once, or a one-time sign-in link, becomes an HttpOnly
// cookie the page never sees), or none for public sites.
(function () {
  "use strict";
  var T = {
    en: { site: "Site", range: "Period", realtime: "Realtime", today: "Today", yesterday: "Yesterday", "7d": "Last 7 days",
      "30d": "Last 30 days", month: "This month", year: "This year", token: "API token", open: "Open",
      visitors: "Visitors", visits: "Visits", pageviews: "Page views", views_per_visit: "Views per visit",
      bounce_rate: "Bounce rate", visit_duration: "Visit duration", events: "Events", conversions: "Conversions",
      conversion_rate: "Conversion rate", orders: "Orders", quantity: "Quantity", total_revenue: "Revenue",
      load_time: "Median load time", impressions: "Impressions", interactions: "Interactions", actions: "Clicks",
      scroll_depth: "Scroll depth", time_on_page: "Time on page", live: "current visitors", csv: "CSV", none: "No data for this period",
      remove: "Remove filter", bad_token: "This token is not valid.", vs: "vs previous period", direct: "(none)",
      signout: "Sign out", custom: "Custom range", from: "From", to: "To", apply: "Apply", prev: "Previous period", next: "Next period",
      compare: "Compare with the previous period", previous: "Previous period",
      live_one: "current visitor", live_other: "current visitors",
      device_desktop: "Desktop", device_mobile: "Mobile", device_tablet: "Tablet", device_other: "Other" },
    fr: { site: "Site", range: "Période", realtime: "Temps réel", today: "Aujourd'hui", yesterday: "Hier", "7d": "7 derniers jours",
      "30d": "30 derniers jours", month: "Ce mois-ci", year: "Cette année", token: "Jeton d'API", open: "Ouvrir",
      visitors: "Visiteurs", visits: "Visites", pageviews: "Pages vues", views_per_visit: "Pages par visite",
      bounce_rate: "Taux de rebond", visit_duration: "Durée de visite", events: "Événements", conversions: "Conversions",
      conversion_rate: "Taux de conversion", orders: "Commandes", quantity: "Quantité", total_revenue: "Chiffre d'affaires",
      load_time: "Temps de chargement médian", impressions: "Impressions", interactions: "Interactions", actions: "Clics",
      scroll_depth: "Défilement", time_on_page: "Temps sur la page", live: "visiteurs en ce moment", csv: "CSV", none: "Aucune donnée sur cette période",
      remove: "Retirer le filtre", bad_token: "Ce jeton n'est pas valide.", vs: "par rapport à la période précédente", direct: "(aucune)",
      signout: "Se déconnecter", custom: "Période personnalisée", from: "Du", to: "Au", apply: "Appliquer", prev: "Période précédente", next: "Période suivante",
      compare: "Comparer à la période précédente", previous: "Période précédente",
      live_one: "visiteur en ce moment", live_other: "visiteurs en ce moment",
      device_desktop: "Ordinateur", device_mobile: "Mobile", device_tablet: "Tablette", device_other: "Autre" }
  };
  var $ = function (id) { return document.getElementById(id); };
  var state = {
    lang: (navigator.language || "en").slice(0, 2) === "fr" ? "fr" : "en",
    credential: null, site: null, period: { name: "7d" }, compare: true, dates: null, filters: [], panels: null, tabs: {}, chart: null
  };
  readLocation();
  var share = location.pathname.match(/^\/share\/([^/]+)/);
  if (share) state.credential = decodeURIComponent(share[1]);

  function t(key) { return T[state.lang][key] || key; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function api(path, body, csv) {
    var headers = { "Content-Type": "application/json" };
    if (state.credential) headers.Authorization = "Bearer " + state.credential;
    return fetch(path, { method: body ? "POST" : "GET", headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 401) throw new Error("401");
        if (!r.ok) return r.json().then(function (j) { throw new Error(j.error || r.status); });
        return csv ? r.text() : r.json();
      });
  }

  // The period as the API takes it: a name, or [from, to] (inclusive dates).
  function range() { return state.period.name || [state.period.from, state.period.to]; }

  function query(extra) {
    var q = { site_id: state.site, date_range: range(), filters: state.filters };
    Object.keys(extra).forEach(function (k) { q[k] = extra[k]; });
    return api("/api/v1/query", q, extra.format === "csv");
  }

  function format(metric, v) {
    if (v === null || v === undefined) return "–";
    if (metric === "bounce_rate" || metric === "conversion_rate" || metric === "scroll_depth") return v + " %";
    if (metric === "visit_duration" || metric === "time_on_page") { var m = Math.floor(v / 60), s = Math.round(v % 60); return (m ? m + " min " : "") + s + " s"; }
    if (metric === "load_time") return v ? Number(v).toLocaleString(state.lang) + " ms" : "–";
    if (metric === "total_revenue") return Number(v).toLocaleString(state.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return Number(v).toLocaleString(state.lang);
  }

  function translate() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-t]").forEach(function (n) { n.textContent = t(n.getAttribute("data-t")); });
    document.querySelectorAll("[data-t-label]").forEach(function (n) { n.setAttribute("aria-label", t(n.getAttribute("data-t-label"))); });
    $("lang").textContent = state.lang === "fr" ? "EN" : "FR";
  }

  function renderTop() {
    var metrics = state.panels.top_line;
    var compare = state.compare && state.period.name !== "realtime";
    query({ metrics: metrics, include: { comparison: compare ? "previous_period" : null } }).then(function (r) {
      var row = r.results[0] || { metrics: [] };
      state.dates = r.meta.dates;
      $("prev").disabled = $("next").disabled = state.period.name === "realtime";
      var box = $("top");
      box.textContent = "";
      metrics.forEach(function (m, i) {
        var change = row.comparison ? row.comparison.change[i] : null, cls = "change";
        var good = m === "bounce_rate" ? change < 0 : change > 0;
        if (change !== null && change !== undefined && change !== 0) cls += good ? " up" : " down";
        var unit = (m === "bounce_rate" || m === "conversion_rate" || m === "views_per_visit" || m === "visit_duration") ? "" : " %";
        box.appendChild(el("div", { class: "metric", id: "top-" + m }, [
          el("div", { class: "label", text: t(m) }),
          el("div", { class: "value", text: format(m, row.metrics[i]) }),
          row.comparison ? el("div", { class: cls, title: t("vs"),
            text: change === null ? "–" : (change > 0 ? "+" : "") + change + unit }) : null
        ]));
      });
    }).catch(fail);
  }

  // Dates: "YYYY-MM-DD" <-> days since 1970-01-01 (UTC arithmetic on calendar dates).
  function day(date) { return Date.parse(date + "T00:00:00Z") / 86400000; }
  function date(days) { return new Date(days * 86400000).toISOString().slice(0, 10); }
  function monthStart(days, shift) {
    var d = new Date(days * 86400000);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + shift, 1) / 86400000;
  }

  // The period before (-1) or after (+1) [first, last]: the same calendar months or year when
  // the period is whole months, else the same number of days.
  function shifted(dates, direction) {
    var first = day(dates[0]), last = day(dates[1]);
    var wholeMonths = date(first).slice(8) === "01" && date(last + 1).slice(8) === "01";
    if (wholeMonths || state.period.name === "month" || state.period.name === "year") {
      var months = Math.round((monthStart(last, 1) - first) / 30.44) || 1;
      if (state.period.name === "month") months = 1;
      if (state.period.name === "year") months = 12;
      var from = monthStart(first, direction * months);
      return [date(from), date(monthStart(from, months) - 1)];
    }
    var length = last - first + 1;
    return [date(first + direction * length), date(last + direction * length)];
  }

  // The chart's bucket: hours for a day, days up to two months, then weeks, then months.
  function bucket() {
    var name = state.period.name;
    if (name === "today" || name === "yesterday" || name === "realtime") return "time:hour";
    if (name === "year") return "time:month";
    var days = name === "7d" ? 7 : name === "30d" ? 30 : name === "month" ? 31 : day(state.period.to) - day(state.period.from) + 1;
    return days <= 2 ? "time:hour" : days <= 62 ? "time:day" : days <= 183 ? "time:week" : "time:month";
  }

  // A bucket's label as a time on the chart (the label's wall-clock time, read as UTC).
  function instant(label) { return Date.parse(label.length === 10 ? label + "T00:00:00Z" : label.replace(" ", "T") + "Z") / 1000; }

  function bucketText(dimension, seconds, long) {
    var options = { timeZone: "UTC" };
    if (dimension === "time:hour") { options.hour = "2-digit"; options.minute = "2-digit"; if (long) { options.day = "numeric"; options.month = "short"; } }
    else if (dimension === "time:month") { options.month = long ? "long" : "short"; options.year = "numeric"; }
    else { options.day = "numeric"; options.month = "short"; if (long) { options.weekday = "short"; options.year = "numeric"; } }
    return new Intl.DateTimeFormat(state.lang, options).format(new Date(seconds * 1000));
  }

  function renderChart() {
    $("chart").setAttribute("data-loading", "1");
    var dimension = bucket();
    var metric = state.panels.chart.metric;
    var series = function (r) {
      var by = {};
      r.results.forEach(function (row) { by[row.dimensions[0]] = row.metrics[0]; });
      var labels = r.meta.time_labels || [];
      return { labels: labels, values: labels.map(function (l) { return by[l] || 0; }), dates: r.meta.dates };
    };
    var ask = function (dates) {
      var q = { metrics: [metric], dimensions: [dimension], limit: 10000, include: { time_labels: true } };
      if (dates) q.date_range = dates;
      return query(q).then(series);
    };
    ask(null).then(function (now) {
      var compare = state.compare && state.period.name !== "realtime";
      return (compare ? ask(shifted(now.dates, -1)) : Promise.resolve(null)).then(function (before) { draw(dimension, metric, now, before); });
    }).catch(fail);
  }

  function draw(dimension, metric, now, before) {
    var box = $("chart");
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    box.textContent = "";
    box.removeAttribute("data-loading");
    var xs = now.labels.map(instant);
    // What the chart shows, for people with a screen reader and for the tests.
    box.setAttribute("data-bucket", dimension);
    box.setAttribute("data-buckets", String(xs.length));
    box.setAttribute("data-first", now.labels[0] || "");
    box.setAttribute("data-last", now.labels[now.labels.length - 1] || "");
    box.setAttribute("data-zeros", String(now.values.filter(function (v) { return v === 0; }).length));
    box.setAttribute("data-previous", before ? String(before.labels.length) : "");
    if (!xs.length) { box.appendChild(el("p", { class: "empty", text: t("none") })); return; }
    var width = Math.min(box.parentNode.clientWidth || 800, 1150);
    var step = Math.max(1, Math.ceil(xs.length / Math.max(2, Math.floor(width / 90))));
    var ticks = xs.filter(function (x, i) { return i % step === 0; });
    var data = [xs, now.values];
    var lines = [{ value: function (u, v) { return v == null ? "–" : bucketText(dimension, v, true); } },
      { label: t(metric), stroke: "#2f4fd0", fill: "rgba(47,79,208,.12)", width: 2, value: function (u, v) { return v == null ? "–" : format(metric, v); } }];
    if (before) {
      data.push(xs.map(function (x, i) { return i < before.values.length ? before.values[i] : null; }));
      lines.push({ label: t("previous"), stroke: "#7a7a85", dash: [6, 4], width: 1.5,
        value: function (u, v, s, i) { return v == null ? "–" : format(metric, v) + " (" + bucketText(dimension, instant(before.labels[i]), true) + ")"; } });
    }
    var first = xs[0], last = xs[xs.length - 1] === first ? first + 3600 : xs[xs.length - 1];
    state.chart = new uPlot({
      width: width, height: 240, series: lines,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true, range: function () { return [first, last]; } } },
      axes: [{ splits: function () { return ticks; }, values: function (u, splits) { return splits.map(function (x) { return bucketText(dimension, x, false); }); } },
        { size: 56, values: function (u, splits) { return splits.map(function (v) { return format(metric, v); }); } }],
      hooks: { draw: [function (u) {
        box.setAttribute("data-axis-min", new Date(u.scales.x.min * 1000).toISOString());
        box.setAttribute("data-axis-max", new Date(u.scales.x.max * 1000).toISOString());
      }] }
    }, data, box);
  }

  function renderPanels() {
    var box = $("panels");
    box.textContent = "";
    state.panels.panels.forEach(function (panel) {
      var selected = state.tabs[panel.id] || 0;
      var tab = panel.tabs[selected];
      var body = el("div", { class: "body" });
      var tabs = el("div", { class: "tabs", role: "tablist" }, panel.tabs.map(function (tb, i) {
        return el("button", { type: "button", role: "tab", "aria-selected": String(i === selected), text: tb.label[state.lang],
          onclick: function () { state.tabs[panel.id] = i; renderPanels(); } });
      }));
      var csv = el("button", { type: "button", text: t("csv"), "aria-label": t("csv") + " " + tab.label[state.lang], onclick: function () {
        query({ metrics: tab.metrics, dimensions: [tab.dimension], limit: 10000, format: "csv" }).then(function (text) {
          var a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: panel.id + ".csv" });
          document.body.appendChild(a); a.click(); a.remove();
        }).catch(fail);
      } });
      box.appendChild(el("section", { class: "panel", id: "panel-" + panel.id }, [
        el("h2", {}, [el("span", { text: panel.title[state.lang] }), csv]), tabs, body]));
      query({ metrics: tab.metrics, dimensions: [tab.dimension], limit: 10 }).then(function (r) {
        if (!r.results.length) { body.appendChild(el("p", { class: "empty", text: t("none") })); return; }
        var head = el("tr", {}, [el("th", { text: tab.label[state.lang] })].concat(tab.metrics.map(function (m) {
          return el("th", { class: "num", text: t(m) }); })));
        var rows = r.results.map(function (row) {
          var value = row.dimensions[0];
          var cell = el("button", { type: "button", text: shown(tab.dimension, value), title: value,
            onclick: function () { addFilter(tab.dimension, value); } });
          return el("tr", {}, [el("td", {}, [cell])].concat(row.metrics.map(function (v, i) {
            return el("td", { class: "num", text: format(tab.metrics[i], v) }); })));
        });
        body.appendChild(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
      }).catch(function (error) {
        // e.g. a public site's realtime view, which is by country only: say why the panel is empty.
        body.appendChild(el("p", { class: "empty", text: String(error.message) }));
        fail(error);
      });
    });
  }

  // A dimension's value for people: country and language names in the dashboard's language,
  // device classes in words, "(none)" for an empty value.
  function shown(dimension, value) {
    if (value === "" || value === undefined) return t("direct");
    try {
      if (dimension === "visit:country") return new Intl.DisplayNames([state.lang], { type: "region" }).of(value) || value;
      if (dimension === "visit:language") return new Intl.DisplayNames([state.lang], { type: "language" }).of(value) || value;
    } catch (e) { return value; }
    if (dimension === "visit:device") return t("device_" + value);
    return value;
  }

  function renderFilters() {
    var box = $("filters");
    box.textContent = "";
    state.filters.forEach(function (f, i) {
      box.appendChild(el("button", { type: "button", "aria-label": t("remove") + " " + f[1] + " " + f[2][0],
        text: f[1].split(":").pop() + " = " + shown(f[1], f[2][0]) + " ×",
        onclick: function () { state.filters.splice(i, 1); refresh(); } }));
    });
  }

  function addFilter(dimension, value) {
    state.filters = state.filters.filter(function (f) { return f[1] !== dimension; });
    state.filters.push(["is", dimension, [value]]);
    refresh();
  }

  function renderLive() {
    query({ metrics: ["visitors"], date_range: "realtime" }).then(function (r) {
      var n = r.results[0] ? r.results[0].metrics[0] : 0;
      var form = new Intl.PluralRules(state.lang).select(n) === "one" ? "live_one" : "live_other";
      $("live").textContent = "● " + Number(n).toLocaleString(state.lang) + " " + t(form);
    }).catch(function () {});
  }

  function refresh() {
    // The arrows move from the period's dates: off until the answer names them.
    state.dates = null;
    $("prev").disabled = $("next").disabled = true;
    writeLocation();
    syncControls();
    translate();
    renderFilters();
    renderTop();
    renderChart();
    renderPanels();
    renderLive();
  }

  function fail(error) {
    if (String(error.message) === "401") {
      state.credential = null;
      $("login").hidden = false;
      $("login-error").textContent = t("bad_token");
    } else if (window.console) { console.error(error); }
  }

  function start() {
    api("/api/v1/sites").then(function (r) {
      var select = $("site");
      select.textContent = "";
      r.sites.forEach(function (s) { select.appendChild(el("option", { value: s.id, text: s.domain })); });
      if (!r.sites.length) { $("login").hidden = false; return; }
      $("login").hidden = true;
      // Signed in through a session: a site that is not public, without a share link.
      $("signout").hidden = !!state.credential || !r.sites.some(function (s) { return !s.public; });
      if (r.sites.some(function (s) { return s.id === state.wantedSite; })) select.value = String(state.wantedSite);
      state.site = Number(select.value);
      refresh();
    }).catch(function () { state.credential = null; $("login").hidden = false; });
  }

  // The view lives in the address: ?site=1&period=7d (or from=…&to=…)&compare=0&filter=[…],
  // so it can be bookmarked and shared.
  function readLocation() {
    var p = new URLSearchParams(location.search);
    if (p.get("site")) state.wantedSite = Number(p.get("site"));
    if (p.get("from") && p.get("to")) state.period = { from: p.get("from"), to: p.get("to") };
    else if (p.get("period")) state.period = { name: p.get("period") };
    state.compare = p.get("compare") !== "0";
    try { if (p.get("filter")) state.filters = JSON.parse(p.get("filter")); } catch (e) { state.filters = []; }
    if (p.get("lang") === "fr" || p.get("lang") === "en") state.lang = p.get("lang");
  }

  function writeLocation() {
    var p = new URLSearchParams();
    if (state.site) p.set("site", state.site);
    if (state.period.name) p.set("period", state.period.name);
    else { p.set("from", state.period.from); p.set("to", state.period.to); }
    if (!state.compare) p.set("compare", "0");
    if (state.filters.length) p.set("filter", JSON.stringify(state.filters));
    history.replaceState(null, "", location.pathname + "?" + p.toString());
  }

  function syncControls() {
    $("range").value = state.period.name || "custom";
    $("custom").hidden = !!state.period.name;
    if (!state.period.name) { $("from").value = state.period.from; $("to").value = state.period.to; }
    $("compare").checked = state.compare;
  }

  function move(direction) {
    if (!state.dates) return;
    var dates = shifted(state.dates, direction);
    state.period = { from: dates[0], to: dates[1] };
    refresh();
  }

  $("site").addEventListener("change", function (e) { state.site = Number(e.target.value); state.filters = []; refresh(); });
  $("range").addEventListener("change", function (e) {
    if (e.target.value === "custom") {
      $("custom").hidden = false;
      if (state.dates) { $("from").value = state.dates[0]; $("to").value = state.dates[1]; }
      $("from").focus();
      return;
    }
    state.period = { name: e.target.value };
    refresh();
  });
  $("apply").addEventListener("click", function () {
    var from = $("from").value, to = $("to").value;
    if (!from || !to) return;
    state.period = from <= to ? { from: from, to: to } : { from: to, to: from };
    refresh();
  });
  $("prev").addEventListener("click", function () { move(-1); });
  $("next").addEventListener("click", function () { move(1); });
  $("compare").addEventListener("change", function (e) { state.compare = e.target.checked; refresh(); });
  $("lang").addEventListener("click", function () { state.lang = state.lang === "fr" ? "en" : "fr"; refresh(); });
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: $("token").value.trim() }) }).then(function (r) {
      $("token").value = "";
      if (!r.ok) { $("login-error").textContent = t("bad_token"); return; }
      $("login-error").textContent = "";
      start();
    }).catch(fail);
  });
  $("signout").addEventListener("click", function () {
    fetch("/api/v1/session", { method: "DELETE" }).then(function () {
      $("signout").hidden = true;
      state.site = null;
      ["top", "chart", "panels", "filters"].forEach(function (id) { $(id).textContent = ""; });
      $("live").textContent = "";
      $("login").hidden = false;
    }).catch(fail);
  });
  window.addEventListener("resize", function () { if (state.chart) renderChart(); });
  setInterval(function () { if (state.site) renderLive(); }, 30000);
  fetch("/assets/panels.json").then(function (r) { return r.json(); }).then(function (p) { state.panels = p; translate(); start(); });
})();
