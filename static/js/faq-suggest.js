// FAQ suggestions while a ticket is written (progressive enhancement over /api/v1/faq/search).
// Without JavaScript the ticket form works as before; the panel then shows nothing or what the
// server rendered. "This solved my problem" posts to /faq/<slug>/solved (a deflection, no ticket).
(function () {
  "use strict";
  var panel = document.getElementById("faq-suggest");
  if (!panel || !window.fetch) { return; }
  var list = document.getElementById("faq-suggest-list");
  var shownField = document.getElementById("faq-shown");
  var subject = document.getElementById("subject");
  var description = document.getElementById("description");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var shown = shownField && shownField.value ? shownField.value.split(",") : [];
  var timer = null;
  var lastQuery = "";

  function remember(slug) {
    if (shown.indexOf(slug) === -1) { shown.push(slug); }
    if (shownField) { shownField.value = shown.join(","); }
  }

  function solvedButton(slug) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button-secondary";
    button.textContent = panel.getAttribute("data-solved-label");
    button.addEventListener("click", function () {
      var body = new URLSearchParams();
      body.set("csrf_token", csrfMeta ? csrfMeta.content : "");
      body.set("next", window.location.pathname);
      fetch(panel.getAttribute("data-solved").replace("__slug__", slug), {
        method: "POST", body: body, credentials: "same-origin"
      }).then(function (response) { window.location.href = response.url; });
    });
    return button;
  }

  function render(results) {
    list.textContent = "";
    if (!results.length) {
      var none = document.createElement("li");
      none.textContent = panel.getAttribute("data-none");
      list.appendChild(none);
      return;
    }
    results.forEach(function (hit) {
      remember(hit.slug);
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = hit.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = hit.title;
      item.appendChild(link);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(solvedButton(hit.slug));
      list.appendChild(item);
    });
  }

  function search() {
    var text = ((subject ? subject.value : "") + " " + (description ? description.value : "")).trim();
    if (text.length < 4 || text === lastQuery) { return; }
    lastQuery = text;
    var url = panel.getAttribute("data-api") + "?limit=5&source=ticket&q=" + encodeURIComponent(text.slice(0, 200));
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { render(data.results || []); })
      .catch(function () { /* suggestions are optional */ });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 400);
  }

  [subject, description].forEach(function (input) {
    if (input) { input.addEventListener("input", schedule); }
  });
  search();
})();
