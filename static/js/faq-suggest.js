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
      // a real form post: the browser lands on the confirmation page, and the draft
      // stays in sessionStorage for the way back (see saveDraft)
      saveDraft();
      var form = document.createElement("form");
      form.method = "post";
      form.action = panel.getAttribute("data-solved").replace("__slug__", slug);
      [["csrf_token", csrfMeta ? csrfMeta.content : ""], ["next", window.location.pathname]].forEach(function (pair) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = pair[0];
        input.value = pair[1];
        form.appendChild(input);
      });
      document.body.appendChild(form);
      form.submit();
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

  // The draft survives a visit to an article and "Det løste mit problem": kept in this
  // tab's sessionStorage while typing, put back when the form comes back empty, dropped
  // when the form is sent.
  var draftKey = "supportdesk:draft:" + window.location.pathname;
  var ticketForm = subject ? subject.form : null;
  function draftFields() {
    return ticketForm ? Array.prototype.filter.call(ticketForm.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.type !== "hidden" && el.type !== "file" &&
        el.type !== "submit" && el.type !== "checkbox" && el.type !== "radio";
    }) : [];
  }
  function saveDraft() {
    try {
      var values = {};
      draftFields().forEach(function (el) { values[el.name] = el.value; });
      window.sessionStorage.setItem(draftKey, JSON.stringify(values));
    } catch (e) { /* storage may be off */ }
  }
  function restoreDraft() {
    var values = null;
    try { values = JSON.parse(window.sessionStorage.getItem(draftKey) || "null"); } catch (e) { values = null; }
    if (!values) { return; }
    var typed = draftFields().some(function (el) {
      return (el.tagName === "TEXTAREA" || el.type === "text") && el.value;
    });
    if (typed) { return; }
    draftFields().forEach(function (el) {
      if (Object.prototype.hasOwnProperty.call(values, el.name)) {
        el.value = values[el.name];
        el.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }
  restoreDraft();
  if (ticketForm) {
    ticketForm.addEventListener("input", saveDraft);
    ticketForm.addEventListener("change", saveDraft);
    ticketForm.addEventListener("submit", function () {
      try { window.sessionStorage.removeItem(draftKey); } catch (e) { /* nothing kept */ }
    });
  }

  [subject, description].forEach(function (input) {
    if (input) { input.addEventListener("input", schedule); }
  });
  search();
})();
