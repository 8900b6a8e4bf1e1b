// Metric charts with uPlot: series come down-sampled from the server and draw as they scroll into view.
// Zooming into a step range fetches that range again, so a million-point series shows its detail;
// smoothing is an exponential moving average; a running run's page refreshes the charts it has drawn.
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#4b5563", "#ea580c"];

  // Steps are whole numbers: tick at 1, 2, 5, 10, 20, 50, … never at fractions.
  var STEP_INCRS = [];
  for (var e = 0; e < 13; e++) [1, 2, 5].forEach(function (m) { STEP_INCRS.push(m * Math.pow(10, e)); });

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
    this.grid = el.querySelector(".chart-grid");
    this.cache = {};
    this.plots = {};
    this.zoom = {}; // figure id -> [first step, last step] the chart was zoomed to
    var self = this;
    if (this.controls) {
      this.controls.addEventListener("submit", function (e) {
        e.preventDefault();
        self.applyStepRange();
      });
      this.controls.addEventListener("change", function (e) {
        if (e.target.name === "from" || e.target.name === "to" || e.target.name === "q") return;
        self.redrawAll();
      });
      this.controls.addEventListener("input", function (e) {
        if (e.target.name === "smooth") {
          self.showSmoothing();
          clearTimeout(self.smoothTimer);
          self.smoothTimer = setTimeout(function () { self.redrawAll(); }, 60);
        } else if (e.target.name === "q") {
          self.filterCharts(e.target.value);
        }
      });
      var reset = this.controls.querySelector("[data-reset-range]");
      if (reset) reset.addEventListener("click", function () { self.resetAll(); });
      this.showSmoothing();
    }
    if ("IntersectionObserver" in window) {
      this.seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            self.seen.unobserve(entry.target);
            self.draw(entry.target);
          }
        });
      }, { rootMargin: "200px" });
    }
    el.querySelectorAll("figure.chart").forEach(function (f) { self.watch(f); });
    this.filterCharts(this.controls && this.controls.elements.q ? this.controls.elements.q.value : "");
  }

  Section.prototype.watch = function (figure) {
    if (this.seen) this.seen.observe(figure);
    else this.draw(figure);
  };

  Section.prototype.options = function () {
    var c = this.controls;
    return {
      x: c ? c.elements.x.value : "step",
      log: c ? c.elements.log.checked : false,
      points: c ? c.elements.points.value : "1000",
      smooth: c && c.elements.smooth ? Number(c.elements.smooth.value) : 0,
    };
  };

  Section.prototype.showSmoothing = function () {
    var out = this.controls.querySelector("output[name=smooth-value]");
    if (out) out.textContent = Number(this.controls.elements.smooth.value).toFixed(2);
  };

  // Only the charts whose key contains the text show; a thousand keys stay quick to look through.
  Section.prototype.filterCharts = function (text) {
    var q = (text || "").trim().toLowerCase();
    var shown = 0;
    var figures = this.el.querySelectorAll("figure.chart");
    figures.forEach(function (f) {
      var match = !q || f.getAttribute("data-key").toLowerCase().indexOf(q) >= 0;
      f.hidden = !match;
      if (match) shown += 1;
    });
    var count = this.el.querySelector("[data-chart-count]");
    if (count) count.textContent = (shown === figures.length ? "" : shown + " of ") + figures.length + (figures.length === 1 ? " chart" : " charts");
  };

  Section.prototype.fetch = function (key, points, range) {
    var cacheKey = key + "\u0000" + points + "\u0000" + (range ? range.join(":") : "");
    if (!this.cache[cacheKey]) {
      var q = new URLSearchParams();
      q.append("key", key);
      q.append("points", points);
      if (range) {
        q.append("start_step", String(range[0]));
        q.append("end_step", String(range[1]));
      }
      this.runs.forEach(function (r) { q.append("run", r); });
      var cache = this.cache;
      cache[cacheKey] = fetch(this.url + "?" + q.toString(), { credentials: "same-origin" }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      });
      cache[cacheKey].catch(function () { delete cache[cacheKey]; });
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

  // New data for a running run: forget what was fetched, add charts for new keys, redraw the drawn ones.
  Section.prototype.refresh = function (pairs) {
    var self = this;
    this.cache = {};
    (pairs || []).forEach(function (pair) {
      if (document.getElementById(pair[1])) return;
      var figure = document.createElement("figure");
      figure.className = "chart";
      figure.id = pair[1];
      figure.setAttribute("data-key", pair[0]);
      var caption = document.createElement("figcaption");
      caption.textContent = pair[0];
      var plot = document.createElement("div");
      plot.className = "plot";
      plot.setAttribute("role", "img");
      plot.setAttribute("aria-label", "Chart of " + pair[0]);
      figure.appendChild(caption);
      figure.appendChild(plot);
      self.grid.appendChild(figure);
      self.watch(figure);
    });
    this.filterCharts(this.controls && this.controls.elements.q ? this.controls.elements.q.value : "");
    // Charts on screen are fetched again now; the others when they next scroll into view.
    Object.keys(this.plots).forEach(function (id) {
      var figure = document.getElementById(id);
      if (!figure) return;
      var r = figure.getBoundingClientRect();
      if (!self.seen || (r.bottom > -200 && r.top < window.innerHeight + 200)) self.draw(figure);
      else self.seen.observe(figure);
    });
  };

  Section.prototype.setZoom = function (figure, range) {
    if (range) this.zoom[figure.id] = range;
    else delete this.zoom[figure.id];
    this.draw(figure);
  };

  // The step range typed in the controls (keyboard zoom) applies to every chart.
  Section.prototype.applyStepRange = function () {
    var c = this.controls.elements;
    var lo = c.from.value === "" ? NaN : Math.floor(Number(c.from.value));
    var hi = c.to.value === "" ? NaN : Math.ceil(Number(c.to.value));
    var self = this;
    var range = isFinite(lo) && isFinite(hi) && lo <= hi ? [lo, hi] : null;
    this.el.querySelectorAll("figure.chart").forEach(function (f) {
      if (range) self.zoom[f.id] = range;
      else delete self.zoom[f.id];
    });
    this.redrawAll();
  };

  Section.prototype.resetAll = function () {
    if (this.controls) {
      this.controls.elements.from.value = "";
      this.controls.elements.to.value = "";
    }
    this.zoom = {};
    this.redrawAll();
  };

  // A canvas each: with a thousand keys, scrolling through would keep hundreds alive. Past a few dozen,
  // the charts far off screen are let go and drawn again when they come back into view.
  var MAX_LIVE_PLOTS = 48;
  Section.prototype.release = function () {
    var ids = Object.keys(this.plots);
    if (ids.length <= MAX_LIVE_PLOTS || !this.seen) return;
    var self = this;
    var reach = window.innerHeight * 1.5;
    ids.forEach(function (id) {
      var figure = document.getElementById(id);
      var r = figure ? figure.getBoundingClientRect() : null;
      if (r && r.bottom > -reach && r.top < window.innerHeight + reach) return;
      self.plots[id].destroy();
      delete self.plots[id];
      if (!figure) return;
      figure.querySelector(".plot").textContent = "";
      figure.removeAttribute("data-rendered");
      self.seen.observe(figure);
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

  // Exponential moving average with the start-up bias removed (as TensorBoard and MLflow smooth).
  function smoothed(ys, weight) {
    if (!weight) return ys;
    var last = 0;
    var n = 0;
    return ys.map(function (y) {
      if (y === null || y === undefined || !isFinite(y)) return null;
      last = last * weight + (1 - weight) * y;
      n += 1;
      return last / (1 - Math.pow(weight, n));
    });
  }

  function resetButton(figure, onClick) {
    var button = figure.querySelector("button.reset-zoom");
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "reset-zoom";
      button.textContent = "Reset zoom";
      button.addEventListener("click", onClick);
      figure.querySelector("figcaption").appendChild(button);
    }
    return button;
  }

  Section.prototype.draw = function (figure) {
    var self = this;
    var key = figure.getAttribute("data-key");
    var opts = this.options();
    var range = this.zoom[figure.id] || null;
    var plotEl = figure.querySelector(".plot");
    figure.setAttribute("aria-busy", "true");
    var started = performance.now();
    figure.removeAttribute("data-drawn");
    this.fetch(key, opts.points, range).then(function (body) {
      var tables = [];
      var labels = [];
      var total = 0;
      var first = null;
      var last = null;
      body.series.forEach(function (s) {
        if (!s.values.length) return;
        var ys = s.values.map(function (v) { return opts.log && v !== null && v <= 0 ? null : v; });
        var pair = sortedPairs(xValues(s, opts.x), ys);
        pair[1] = smoothed(pair[1], opts.smooth);
        tables.push(pair);
        labels.push(self.names[s.run_id] || s.run_id);
        total += s.values.length;
        first = first === null ? s.steps[0] : Math.min(first, s.steps[0]);
        last = last === null ? s.steps[s.steps.length - 1] : Math.max(last, s.steps[s.steps.length - 1]);
      });
      if (self.plots[figure.id]) {
        self.plots[figure.id].destroy();
        delete self.plots[figure.id];
      }
      plotEl.textContent = "";
      var button = resetButton(figure, function () { self.setZoom(figure, null); });
      button.hidden = !range;
      if (range) figure.setAttribute("data-zoom", range[0] + ":" + range[1]);
      else figure.removeAttribute("data-zoom");
      if (!tables.length) {
        var p = document.createElement("p");
        p.className = "help";
        p.textContent = range ? "No points in steps " + range[0] + " to " + range[1] + "." : "No points.";
        plotEl.appendChild(p);
        figure.setAttribute("data-points", "0");
        figure.setAttribute("data-rendered", "true");
        figure.removeAttribute("aria-busy");
        return;
      }
      var data = tables.length === 1 ? tables[0] : window.uPlot.join(tables);
      var axis = cssVar("--muted", "#666");
      var grid = cssVar("--grid", "#ddd");
      var series = [{ label: opts.x === "step" ? "step" : opts.x === "wall" ? "time" : "seconds" }];
      labels.forEach(function (label, i) {
        // Sparse series (a run that just started) show their points, or one point would draw nothing.
        var sparse = tables[i][0].length <= 60;
        series.push({ label: label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true, points: { show: sparse, size: 5, fill: PALETTE[i % PALETTE.length] } });
      });
      var byStep = opts.x === "step";
      var width = Math.max(240, plotEl.clientWidth || figure.clientWidth || 400);
      var plot = new window.uPlot({
        width: width,
        height: 220,
        series: series,
        scales: { x: { time: opts.x === "wall" }, y: opts.log ? { distr: 3 } : {} },
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, incrs: byStep ? STEP_INCRS : undefined },
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        ],
        // By step, a dragged range is fetched again from the server at full detail; by time, uPlot zooms.
        cursor: { drag: { x: true, y: false, setScale: !byStep } },
        hooks: {
          // data-drawn marks a canvas painted with this data (tests and bench/dashboard.py wait for it).
          draw: [function () { figure.setAttribute("data-drawn", "true"); }],
          setSelect: byStep ? [function (u) {
            if (u.select.width < 3) return;
            var lo = Math.floor(u.posToVal(u.select.left, "x"));
            var hi = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (hi > lo) self.setZoom(figure, [lo, hi]);
          }] : [],
        },
        legend: { show: true },
      }, data, plotEl);
      if (byStep) plot.over.addEventListener("dblclick", function () { self.setZoom(figure, null); });
      self.plots[figure.id] = plot;
      self.release();
      figure.setAttribute("data-points", String(total));
      figure.setAttribute("data-first-step", String(first));
      figure.setAttribute("data-last-step", String(last));
      var ys = data[1];
      for (var i = ys.length - 1; i >= 0; i--) {
        if (ys[i] !== null && ys[i] !== undefined) { figure.setAttribute("data-last-y", String(ys[i])); break; }
      }
      figure.setAttribute("data-ms", String(Math.round(performance.now() - started)));
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
  // The running run's metrics section was swapped in: refresh the charts beside it.
  document.addEventListener("htmx:load", function (event) {
    var live = event.detail && event.detail.elt;
    if (!live || live.id !== "run-live") return;
    var pairs = JSON.parse(live.getAttribute("data-metric-keys") || "[]");
    sections.forEach(function (s) { s.refresh(pairs); });
  });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { sections.forEach(function (s) { s.redrawAll(); }); }, 200);
  });
})();
