// The compare page's scatter plot: one param or metric against another, one dot per run, on a canvas.
// Numeric values get a linear axis; anything else gets one tick per distinct value.
(function () {
  "use strict";
  var MARGIN = { left: 72, right: 20, top: 16, bottom: 56 };

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return v && v.trim() ? v.trim() : fallback;
  }

  // "param:lr" or "metric:loss" → the run's value of it, or undefined.
  function valueOf(run, choice) {
    var kind = choice.slice(0, choice.indexOf(":"));
    var key = choice.slice(choice.indexOf(":") + 1);
    var bag = kind === "param" ? run.params : run.metrics;
    return Object.prototype.hasOwnProperty.call(bag, key) ? bag[key] : undefined;
  }

  function niceTicks(lo, hi, count) {
    if (lo === hi) { lo -= 1; hi += 1; }
    var span = hi - lo;
    var step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = (span / count) / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
    return { lo: lo, hi: hi, ticks: ticks };
  }

  function label(v) {
    if (typeof v !== "number") return String(v);
    if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(6)));
  }

  // An axis over the values: numeric when every value reads as a number, else categorical.
  function axisFor(values) {
    var present = values.filter(function (v) { return v !== undefined && v !== null && v !== ""; });
    var numeric = present.length > 0 && present.every(function (v) { return typeof v === "number" || (v.trim() !== "" && isFinite(Number(v))); });
    if (numeric) {
      var nums = present.map(Number).filter(isFinite);
      var lo = Math.min.apply(null, nums);
      var hi = Math.max.apply(null, nums);
      var pad = (hi - lo) * 0.05 || Math.abs(lo) * 0.05 || 1;
      var nice = niceTicks(lo - pad, hi + pad, 6);
      return {
        numeric: true, lo: nice.lo, hi: nice.hi, ticks: nice.ticks.map(function (t) { return { at: t, text: label(t) }; }),
        pos: function (v) { var n = Number(v); return isFinite(n) ? (n - nice.lo) / (nice.hi - nice.lo) : null; },
      };
    }
    var cats = Array.from(new Set(present.map(String))).sort();
    var index = {};
    cats.forEach(function (c, i) { index[c] = i; });
    return {
      numeric: false, ticks: cats.map(function (c, i) { return { at: (i + 0.5) / cats.length, text: c }; }),
      // A run's dot is nudged within its category's band (the same way every time), so equal values stay apart.
      pos: function (v, i) {
        if (v === undefined || v === null || v === "") return null;
        var nudge = (((i * 37) % 21) - 10) / 10 * 0.3;
        return (index[String(v)] + 0.5 + nudge) / cats.length;
      },
    };
  }

  function Scatter(section) {
    this.section = section;
    this.data = JSON.parse(section.getAttribute("data-scatter") || "{}");
    this.form = section.querySelector("form");
    this.canvas = section.querySelector("canvas");
    this.summary = section.querySelector("[data-scatter-summary]");
    this.hover = section.querySelector("[data-scatter-hover]");
    this.dots = [];
    var self = this;
    this.form.addEventListener("change", function () { self.draw(); });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); });
    this.canvas.addEventListener("mousemove", function (e) { self.pointAt(e); });
    this.canvas.addEventListener("mouseleave", function () { self.hover.textContent = ""; });
    this.draw();
  }

  Scatter.prototype.draw = function () {
    var started = performance.now();
    var xChoice = this.form.elements.x.value;
    var yChoice = this.form.elements.y.value;
    var runs = this.data.runs || [];
    var xs = runs.map(function (r) { return valueOf(r, xChoice); });
    var ys = runs.map(function (r) { return valueOf(r, yChoice); });
    var xAxis = axisFor(xs);
    var yAxis = axisFor(ys);
    var box = this.canvas.parentElement;
    var width = Math.max(320, box.clientWidth || 640);
    var height = 380;
    var ratio = window.devicePixelRatio || 1;
    var c = this.canvas;
    c.width = Math.round(width * ratio);
    c.height = Math.round(height * ratio);
    c.style.width = width + "px";
    c.style.height = height + "px";
    var g = c.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    var fg = cssVar("--fg", "#222");
    var muted = cssVar("--muted", "#666");
    var gridColor = cssVar("--grid", "#ddd");
    var plotW = width - MARGIN.left - MARGIN.right;
    var plotH = height - MARGIN.top - MARGIN.bottom;
    var px = function (p) { return MARGIN.left + p * plotW; };
    var py = function (p) { return MARGIN.top + (1 - p) * plotH; };
    g.font = "12px system-ui, sans-serif";
    g.lineWidth = 1;
    // Grid, ticks and tick labels.
    g.strokeStyle = gridColor;
    g.fillStyle = muted;
    var xTickEvery = Math.max(1, Math.ceil(xAxis.ticks.length / Math.max(1, Math.floor(plotW / 70))));
    xAxis.ticks.forEach(function (t, i) {
      var p = xAxis.numeric ? (t.at - xAxis.lo) / (xAxis.hi - xAxis.lo) : t.at;
      var x = px(p);
      g.beginPath(); g.moveTo(x, MARGIN.top); g.lineTo(x, MARGIN.top + plotH); g.stroke();
      if (i % xTickEvery === 0) {
        g.textAlign = "center"; g.textBaseline = "top";
        g.fillText(t.text.length > 14 ? t.text.slice(0, 13) + "…" : t.text, x, MARGIN.top + plotH + 6);
      }
    });
    var yTickEvery = Math.max(1, Math.ceil(yAxis.ticks.length / Math.max(1, Math.floor(plotH / 28))));
    yAxis.ticks.forEach(function (t, i) {
      var p = yAxis.numeric ? (t.at - yAxis.lo) / (yAxis.hi - yAxis.lo) : t.at;
      var y = py(p);
      g.beginPath(); g.moveTo(MARGIN.left, y); g.lineTo(MARGIN.left + plotW, y); g.stroke();
      if (i % yTickEvery === 0) {
        g.textAlign = "right"; g.textBaseline = "middle";
        g.fillText(t.text.length > 10 ? t.text.slice(0, 9) + "…" : t.text, MARGIN.left - 6, y);
      }
    });
    g.strokeStyle = muted;
    g.strokeRect(MARGIN.left, MARGIN.top, plotW, plotH);
    // Axis titles: the chosen keys.
    var xName = this.form.elements.x.selectedOptions[0] ? this.form.elements.x.selectedOptions[0].textContent : "";
    var yName = this.form.elements.y.selectedOptions[0] ? this.form.elements.y.selectedOptions[0].textContent : "";
    g.fillStyle = fg;
    g.font = "600 12px system-ui, sans-serif";
    g.textAlign = "center"; g.textBaseline = "bottom";
    g.fillText(xName, MARGIN.left + plotW / 2, height - 6);
    g.save();
    g.translate(14, MARGIN.top + plotH / 2);
    g.rotate(-Math.PI / 2);
    g.textBaseline = "top";
    g.fillText(yName, 0, 0);
    g.restore();
    // The dots.
    var dots = [];
    var dotColor = cssVar("--accent", "#0b5cd5");
    runs.forEach(function (run, i) {
      var a = xAxis.pos(xs[i], i);
      var b = yAxis.pos(ys[i], i);
      if (a === null || b === null) return;
      var x = px(a);
      var y = py(b);
      g.beginPath();
      g.fillStyle = dotColor;
      g.globalAlpha = 0.7;
      g.arc(x, y, 5, 0, Math.PI * 2);
      g.fill();
      g.globalAlpha = 1;
      dots.push({ x: x, y: y, run: run, xv: xs[i], yv: ys[i] });
    });
    this.dots = dots;
    this.hover.textContent = "";
    var missing = runs.length - dots.length;
    this.summary.textContent = dots.length + " of " + runs.length + " runs plotted: " + yName + " against " + xName +
      (missing ? " (" + missing + " lack one of them)" : "") + ".";
    c.setAttribute("aria-label", "Scatter plot of " + yName + " against " + xName + ", " + dots.length + " runs");
    this.section.setAttribute("data-points", String(dots.length));
    this.section.setAttribute("data-ms", String(Math.round(performance.now() - started)));
    this.section.setAttribute("data-rendered", "true");
  };

  Scatter.prototype.pointAt = function (event) {
    var rect = this.canvas.getBoundingClientRect();
    var x = event.clientX - rect.left;
    var y = event.clientY - rect.top;
    var best = null;
    var bestD = 64;
    this.dots.forEach(function (d) {
      var dd = (d.x - x) * (d.x - x) + (d.y - y) * (d.y - y);
      if (dd < bestD) { bestD = dd; best = d; }
    });
    this.hover.textContent = best ? (best.run.name + ": " + label(best.xv) + ", " + label(best.yv)) : "";
  };

  var plots = [];
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("section[data-scatter]").forEach(function (s) { plots.push(new Scatter(s)); });
  });
  document.addEventListener("tracklight:theme", function () { plots.forEach(function (p) { p.draw(); }); });
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { plots.forEach(function (p) { p.draw(); }); }, 200);
  });
})();
