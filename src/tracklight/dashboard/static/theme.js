// Apply the saved theme before the page paints (light, dark, or the system's when unset).
(function () {
  "use strict";
  try {
    var saved = window.localStorage.getItem("tracklight-theme");
    if (saved === "light" || saved === "dark") {
      document.documentElement.setAttribute("data-theme", saved);
    }
  } catch (e) {
    /* storage may be disabled; the system theme applies */
  }
})();
