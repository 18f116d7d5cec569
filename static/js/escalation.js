// Known-issue banner on "Ny henvendelse": show only the issues of the chosen system.
// Works on the plain "System - Kategori" select; without JS every active issue is shown.
(function () {
  "use strict";
  function update() {
    var banner = document.querySelector("[data-known-issue-topics]");
    var select = document.querySelector("select[name=topic]");
    if (!banner || !select) return;
    var topics = JSON.parse(banner.getAttribute("data-known-issue-topics") || "{}");
    var system = topics[select.value];
    var shown = 0;
    banner.querySelectorAll("[data-system]").forEach(function (item) {
      var on = !system || item.getAttribute("data-system") === system;
      item.hidden = !on;
      if (on) shown += 1;
    });
    banner.hidden = shown === 0;
  }
  document.addEventListener("change", update);
  document.addEventListener("DOMContentLoaded", update);
})();
