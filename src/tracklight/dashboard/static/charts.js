// Metric charts with uPlot: series come down-sampled from the server; charts draw as they scroll into view.
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#4b5563", "#ea580c"];

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return v && v.trim() ? v.trim() : fallback;
  }

  function Section(el) {
    this.el = el;
    this.url = el.getAttribute("data-series-url");
    this.runs = JSON.parse(el.getAttribute("data-runs") || "[]");
    this.names = JSON.parse(el.getAttribute("data-names") || "{}");
    this.controls = el.querySelector("[data-chart-controls]");
    this.cache = {};
    this.plots = {};
    var self = this;
    if (this.controls) {
      this.controls.addEventListener("submit", function (e) { e.preventDefault(); });
      this.controls.addEventListener("change", function () { self.redrawAll(); });
    }
    var figures = el.querySelectorAll("figure.chart");
    if ("IntersectionObserver" in window) {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            seen.unobserve(entry.target);
            self.draw(entry.target);
          }
        });
      }, { rootMargin: "200px" });
      figures.forEach(function (f) { seen.observe(f); });
    } else {
      figures.forEach(function (f) { self.draw(f); });
    }
  }

  Section.prototype.options = function () {
    var c = this.controls;
    return {
      x: c ? c.elements.x.value : "step",
      log: c ? c.elements.log.checked : false,
      points: c ? c.elements.points.value : "1000",
    };
  };

  Section.prototype.fetch = function (key, points) {
    var cacheKey = key + "\u0000" + points;
    if (!this.cache[cacheKey]) {
      var q = new URLSearchParams();
      q.append("key", key);
      q.append("points", points);
      this.runs.forEach(function (r) { q.append("run", r); });
      this.cache[cacheKey] = fetch(this.url + "?" + q.toString(), { credentials: "same-origin" }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      });
    }
    return this.cache[cacheKey];
  };

  Section.prototype.redrawAll = function () {
    var self = this;
    Object.keys(this.plots).forEach(function (id) {
      var figure = document.getElementById(id);
      if (figure) self.draw(figure);
    });
  };

  function xValues(series, mode) {
    if (mode === "step") return series.steps.slice();
    if (mode === "wall") return series.timestamps.map(function (t) { return t / 1000; });
    var t0 = series.timestamps.length ? Math.min.apply(null, series.timestamps) : 0;
    return series.timestamps.map(function (t) { return (t - t0) / 1000; });
  }

  function sortedPairs(xs, ys) {
    var idx = xs.map(function (_, i) { return i; });
    idx.sort(function (a, b) { return xs[a] - xs[b]; });
    return [idx.map(function (i) { return xs[i]; }), idx.map(function (i) { return ys[i]; })];
  }

  Section.prototype.draw = function (figure) {
    var self = this;
    var key = figure.getAttribute("data-key");
    var opts = this.options();
    var plotEl = figure.querySelector(".plot");
    figure.setAttribute("aria-busy", "true");
    figure.removeAttribute("data-drawn");
    this.fetch(key, opts.points).then(function (body) {
      var tables = [];
      var labels = [];
      var total = 0;
      body.series.forEach(function (s) {
        if (!s.values.length) return;
        var ys = s.values.map(function (v) { return opts.log && v !== null && v <= 0 ? null : v; });
        tables.push(sortedPairs(xValues(s, opts.x), ys));
        labels.push(self.names[s.run_id] || s.run_id);
        total += s.values.length;
      });
      if (self.plots[figure.id]) {
        self.plots[figure.id].destroy();
        delete self.plots[figure.id];
      }
      plotEl.textContent = "";
      if (!tables.length) {
        var p = document.createElement("p");
        p.className = "help";
        p.textContent = "No points.";
        plotEl.appendChild(p);
        figure.removeAttribute("aria-busy");
        return;
      }
      var data = tables.length === 1 ? tables[0] : window.uPlot.join(tables);
      var axis = cssVar("--muted", "#666");
      var grid = cssVar("--grid", "#ddd");
      var series = [{ label: opts.x === "step" ? "step" : opts.x === "wall" ? "time" : "seconds" }];
      labels.forEach(function (label, i) {
        series.push({ label: label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true, points: { show: false } });
      });
      var width = Math.max(240, plotEl.clientWidth || figure.clientWidth || 400);
      var plot = new window.uPlot({
        width: width,
        height: 220,
        series: series,
        scales: { x: { time: opts.x === "wall" }, y: opts.log ? { distr: 3 } : {} },
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        ],
        cursor: { drag: { x: true, y: false } },
        legend: { show: true },
        // data-drawn marks a canvas painted with this data (tests and bench/dashboard.py wait for it).
        hooks: { draw: [function () { figure.setAttribute("data-drawn", "true"); }] },
      }, data, plotEl);
      self.plots[figure.id] = plot;
      figure.setAttribute("data-points", String(total));
      figure.setAttribute("data-rendered", "true");
      figure.removeAttribute("aria-busy");
    }).catch(function (err) {
      plotEl.textContent = "";
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = "Could not load " + key + ": " + err.message;
      plotEl.appendChild(p);
      figure.removeAttribute("aria-busy");
    });
  };

  var sections = [];
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("section.charts").forEach(function (el) { sections.push(new Section(el)); });
  });
  document.addEventListener("tracklight:theme", function () {
    sections.forEach(function (s) { s.redrawAll(); });
  });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { sections.forEach(function (s) { s.redrawAll(); }); }, 200);
  });
})();
