// Sparklines of a run's metrics table: each drawn when its row first scrolls into view, from a
// 50-point server-side sample (the charts' series endpoint), so 1,000 keys cost only the rows seen.
// A running run's table is swapped in every few seconds; a sparkline whose metric has the same
// latest step and time as before is drawn again from the points already fetched.
(function () {
  "use strict";
  var POINTS = 50;
  var SVG = "http://www.w3.org/2000/svg";
  var fetched = new Map(); // key -> {id: "step timestamp", points: Promise of [[step, value], ...]}

  function series(url, run, key) {
    var q = "?key=" + encodeURIComponent(key) + "&run=" + encodeURIComponent(run) + "&points=" + POINTS;
    return fetch(url + q, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      var s = body.series && body.series[0];
      var out = [];
      if (!s) return out;
      for (var i = 0; i < s.steps.length; i++) {
        if (s.values[i] !== null) out.push([s.steps[i], s.values[i]]);
      }
      return out;
    });
  }

  function draw(svg, points) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (points.length === 0) return;
    var x0 = points[0][0], x1 = points[points.length - 1][0];
    var lo = Infinity, hi = -Infinity;
    points.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
    var w = 100, h = 24, pad = 2;
    var sx = x1 > x0 ? (w / (x1 - x0)) : 0;
    var sy = hi > lo ? ((h - 2 * pad) / (hi - lo)) : 0;
    var coords = points.map(function (p) {
      var x = x1 > x0 ? (p[0] - x0) * sx : w / 2;
      var y = hi > lo ? h - pad - (p[1] - lo) * sy : h / 2;
      return x.toFixed(2) + "," + y.toFixed(2);
    });
    if (coords.length === 1) coords.push((w).toFixed(2) + "," + coords[0].split(",")[1]);
    var line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", coords.join(" "));
    svg.appendChild(line);
    svg.setAttribute("data-points", String(points.length));
  }

  function load(section, svg) {
    var key = svg.getAttribute("data-spark");
    var id = svg.getAttribute("data-step") + " " + svg.getAttribute("data-ts");
    var known = fetched.get(key);
    if (!known || known.id !== id) {
      var entry = { id: id, points: series(section.getAttribute("data-series-url"), section.getAttribute("data-run"), key) };
      entry.points.catch(function () { if (fetched.get(key) === entry) fetched.delete(key); });
      fetched.set(key, entry);
      known = entry;
    }
    known.points.then(function (points) {
      draw(svg, points);
      svg.setAttribute("data-drawn", "true");
    }).catch(function (err) {
      svg.setAttribute("data-error", err.message);
    });
  }

  function watch(section) {
    var svgs = section.querySelectorAll("svg[data-spark]");
    if (!("IntersectionObserver" in window)) {
      svgs.forEach(function (svg) { load(section, svg); });
      return;
    }
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        seen.unobserve(entry.target);
        load(section, entry.target);
      });
    }, { rootMargin: "100px" });
    svgs.forEach(function (svg) { seen.observe(svg); });
  }

  // The charts below ask for the same series, 1000 points each: the sparklines wait until the charts
  // on screen have theirs (or 3 s), so that on a long series they do not slow the first chart down.
  function afterCharts(then) {
    var started = Date.now();
    (function check() {
      var busy = document.querySelector("figure.chart[aria-busy]");
      if ((!busy && Date.now() - started > 100) || Date.now() - started > 3000) then();
      else setTimeout(check, 50);
    })();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("run-live");
    if (section) afterCharts(function () { watch(section); });
  });
  document.addEventListener("htmx:load", function (event) {
    var el = event.detail && event.detail.elt;
    if (el && el.id === "run-live") watch(el);
  });
})();
