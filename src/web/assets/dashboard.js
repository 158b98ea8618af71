// mesure's built-in dashboard: reads the panel definitions (/assets/panels.json) and asks the
// stats API for each. No framework, no CDN. Credentials: a share link (/share/SECRET), a token
// typed in (kept for this tab only), or none for public sites.
(function () {
  "use strict";
  var T = {
    en: { site: "Site", range: "Period", realtime: "Realtime", today: "Today", yesterday: "Yesterday", "7d": "Last 7 days",
      "30d": "Last 30 days", month: "This month", year: "This year", token: "API token", open: "Open",
      visitors: "Visitors", visits: "Visits", pageviews: "Page views", views_per_visit: "Views per visit",
      bounce_rate: "Bounce rate", visit_duration: "Visit duration", events: "Events", conversions: "Conversions",
      conversion_rate: "Conversion rate", orders: "Orders", quantity: "Quantity", total_revenue: "Revenue",
      load_time: "Median load time", impressions: "Impressions", interactions: "Interactions",
      scroll_depth: "Scroll depth", time_on_page: "Time on page", live: "current visitors", csv: "CSV", none: "No data for this period",
      remove: "Remove filter", bad_token: "This token is not valid.", vs: "vs previous period", direct: "(none)" },
    fr: { site: "Site", range: "Période", realtime: "Temps réel", today: "Aujourd'hui", yesterday: "Hier", "7d": "7 derniers jours",
      "30d": "30 derniers jours", month: "Ce mois-ci", year: "Cette année", token: "Jeton d'API", open: "Ouvrir",
      visitors: "Visiteurs", visits: "Visites", pageviews: "Pages vues", views_per_visit: "Pages par visite",
      bounce_rate: "Taux de rebond", visit_duration: "Durée de visite", events: "Événements", conversions: "Conversions",
      conversion_rate: "Taux de conversion", orders: "Commandes", quantity: "Quantité", total_revenue: "Chiffre d'affaires",
      load_time: "Temps de chargement médian", impressions: "Impressions", interactions: "Interactions",
      scroll_depth: "Défilement", time_on_page: "Temps sur la page", live: "visiteurs en ce moment", csv: "CSV", none: "Aucune donnée sur cette période",
      remove: "Retirer le filtre", bad_token: "Ce jeton n'est pas valide.", vs: "par rapport à la période précédente", direct: "(aucune)" }
  };
  var $ = function (id) { return document.getElementById(id); };
  var state = {
    lang: (navigator.language || "en").slice(0, 2) === "fr" ? "fr" : "en",
    credential: null, site: null, range: "7d", filters: [], panels: null, tabs: {}, chart: null
  };
  var share = location.pathname.match(/^\/share\/([^/]+)/);
  if (share) state.credential = decodeURIComponent(share[1]);
  else { try { state.credential = sessionStorage.getItem("mesure_token"); } catch (e) {} }

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

  function query(extra) {
    var q = { site_id: state.site, date_range: state.range, filters: state.filters };
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
    $("lang").textContent = state.lang === "fr" ? "EN" : "FR";
  }

  function renderTop() {
    var metrics = state.panels.top_line;
    query({ metrics: metrics, include: { comparison: state.range === "realtime" ? null : "previous_period" } }).then(function (r) {
      var row = r.results[0] || { metrics: [] };
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

  function renderChart() {
    var short = state.range === "today" || state.range === "yesterday" || state.range === "realtime";
    var dimension = short ? state.panels.chart.interval_short : state.panels.chart.interval_long;
    var metric = state.panels.chart.metric;
    query({ metrics: [metric], dimensions: [dimension], limit: 10000 }).then(function (r) {
      var xs = [], ys = [];
      r.results.forEach(function (row) {
        var d = row.dimensions[0];
        xs.push(Date.parse(d.length === 10 ? d + "T00:00:00Z" : d.replace(" ", "T") + "Z") / 1000);
        ys.push(row.metrics[0]);
      });
      var box = $("chart");
      if (state.chart) { state.chart.destroy(); state.chart = null; }
      box.textContent = "";
      if (!xs.length) { box.appendChild(el("p", { class: "empty", text: t("none") })); return; }
      var width = Math.min(box.parentNode.clientWidth || 800, 1150);
      state.chart = new uPlot({ width: width, height: 220, series: [{}, { label: t(metric), stroke: "#2f4fd0", fill: "rgba(47,79,208,.12)", width: 2 }],
        axes: [{}, { size: 50 }], scales: { x: { time: true } } }, [xs, ys], box);
    }).catch(fail);
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
          var cell = el("button", { type: "button", text: value === "" ? t("direct") : value, title: value,
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

  function renderFilters() {
    var box = $("filters");
    box.textContent = "";
    state.filters.forEach(function (f, i) {
      box.appendChild(el("button", { type: "button", "aria-label": t("remove") + " " + f[1] + " " + f[2][0],
        text: f[1].split(":").pop() + " = " + (f[2][0] || t("direct")) + " ×",
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
      $("live").textContent = "● " + n + " " + t("live");
    }).catch(function () {});
  }

  function refresh() {
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
      state.site = Number(select.value);
      refresh();
    }).catch(function () { state.credential = null; $("login").hidden = false; });
  }

  $("site").addEventListener("change", function (e) { state.site = Number(e.target.value); state.filters = []; refresh(); });
  $("range").addEventListener("change", function (e) { state.range = e.target.value; refresh(); });
  $("lang").addEventListener("click", function () { state.lang = state.lang === "fr" ? "en" : "fr"; refresh(); });
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    state.credential = $("token").value.trim();
    try { sessionStorage.setItem("mesure_token", state.credential); } catch (err) {}
    start();
  });
  window.addEventListener("resize", function () { if (state.chart) renderChart(); });
  setInterval(function () { if (state.site) renderLive(); }, 30000);
  fetch("/assets/panels.json").then(function (r) { return r.json(); }).then(function (p) { state.panels = p; translate(); start(); });
})();
