// Keyboard shortcuts of the queue and the ticket page; documented in tickets/_shortcuts.html.
(function () {
  "use strict";
  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }
  function focus(selector) {
    var el = document.querySelector(selector);
    if (!el) { return false; }
    var fold = el.closest("details");  // the queue's filters fold behind "Filtre" on a phone
    if (fold && !fold.open) { fold.open = true; }
    el.focus();
    return true;
  }
  function moveRow(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll(".ticket-list tbody td:nth-child(2) a, .ticket-list tbody td:first-child a"));
    if (!links.length) { return; }
    var index = links.indexOf(document.activeElement);
    var next = index < 0 ? 0 : Math.min(Math.max(index + step, 0), links.length - 1);
    links[next].focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var done = true;
    switch (event.key) {
      case "/": done = focus("#f-q"); break;
      case "j": moveRow(1); break;
      case "k": moveRow(-1); break;
      case "m":
        var mine = document.querySelector("a[data-view=mine]");
        if (mine) { window.location.href = mine.href; } else { done = false; }
        break;
      case "r": done = focus("form[action$='/entries'] textarea"); break;
      case "s": done = focus("form[action$='/handling'] select"); break;
      case "?":
        var box = document.getElementById("shortcuts");
        if (box) { box.open = true; box.querySelector("summary").focus(); } else { done = false; }
        break;
      default: done = false;
    }
    if (done) { event.preventDefault(); }
  });
})();
