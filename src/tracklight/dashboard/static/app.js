// The dashboard's small behaviours: links the mlflow client prints, the theme toggle, run selection.
(function () {
  "use strict";
  var root = document.documentElement;
  var prefix = root.getAttribute("data-prefix") || "";

  // The client prints http://host/#/experiments/<id>/runs/<run_id>: send it to the real page.
  function followHashRoute() {
    var hash = window.location.hash || "";
    // mlflow.genai.evaluate prints #/experiments/<id>/evaluation-runs?selectedRunUuid=<run_id>, and
    // trace links carry ?selectedTraceId= (or selectedEvaluationId=) on #/experiments/<id>/traces.
    var m = hash.match(/^#\/experiments\/(\d+)\/[\w-]*\?(?:.*&)?selectedRunUuid=([0-9A-Za-z]+)/);
    if (m) {
      window.location.replace(prefix + "/experiments/" + m[1] + "/runs/" + m[2]);
      return true;
    }
    m = hash.match(/^#\/experiments\/(\d+)\/traces(?:\?(?:.*&)?selected(?:Trace|Evaluation)Id=([\w-]+))?/);
    if (m) {
      var trace = m[2] ? "/" + encodeURIComponent(m[2]) : "";
      window.location.replace(prefix + "/experiments/" + m[1] + "/traces" + trace);
      return true;
    }
    m = hash.match(/^#\/experiments\/(\d+)(?:\/runs\/([0-9A-Za-z]+))?/);
    if (m) {
      var target = prefix + "/experiments/" + m[1] + (m[2] ? "/runs/" + m[2] : "");
      window.location.replace(target);
      return true;
    }
    m = hash.match(/^#\/models\/([^/]+)(?:\/versions\/(\d+))?/);
    if (m) {
      var name = encodeURIComponent(decodeURIComponent(m[1]));
      window.location.replace(prefix + "/models/" + name + (m[2] ? "/versions/" + m[2] : ""));
      return true;
    }
    return false;
  }
  followHashRoute();
  window.addEventListener("hashchange", followHashRoute);

  function currentTheme() {
    var set = root.getAttribute("data-theme");
    if (set) return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function showTheme(button) {
    var dark = currentTheme() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.textContent = dark ? "Light theme" : "Dark theme";
  }

  function setupThemeToggle() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    showTheme(button);
    button.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try {
        window.localStorage.setItem("tracklight-theme", next);
      } catch (e) {
        /* not saved; it still applies to this page */
      }
      showTheme(button);
      document.dispatchEvent(new CustomEvent("tracklight:theme"));
    });
  }

  function countSelected() {
    var out = document.getElementById("selected-count");
    var button = document.getElementById("compare-button");
    if (!out || !button) return;
    var n = document.querySelectorAll('input[form="compare-form"][name="run"]:checked').length;
    out.textContent = n ? n + " selected" : "Select runs with the checkboxes to compare them.";
    button.disabled = n === 0;
  }

  function countExperiments() {
    var button = document.getElementById("several-button");
    if (!button) return;
    button.disabled = document.querySelectorAll('input[form="several-form"]:checked').length === 0;
  }

  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t && t.getAttribute && t.getAttribute("form") === "compare-form") countSelected();
    if (t && t.getAttribute && t.getAttribute("form") === "several-form") countExperiments();
  });

  document.addEventListener("DOMContentLoaded", function () {
    setupThemeToggle();
    countSelected();
    countExperiments();
    if (window.htmx) {
      window.htmx.onLoad(function () {
        countSelected();
        countExperiments();
      });
    }
  });
})();

// A "Copy" button next to a read-only field (the new token): copies the field's value.
(function () {
  "use strict";
  function said(id, text) {
    var out = document.querySelector('[data-copied-for="' + id + '"]');
    if (out) out.textContent = text;
  }
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var id = button.getAttribute("data-copy");
    var field = document.getElementById(id);
    if (!field) return;
    field.focus();
    field.select();
    // The Clipboard API needs a secure context (https or localhost); elsewhere the older command works.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { said(id, "Copied."); },
        function () { said(id, "Select the token and copy it (Ctrl+C)."); }
      );
      return;
    }
    var done = false;
    try {
      done = document.execCommand("copy");
    } catch (e) {
      done = false;
    }
    said(id, done ? "Copied." : "Select the token and copy it (Ctrl+C).");
  });
})();
