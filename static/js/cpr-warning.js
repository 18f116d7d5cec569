// The CPR warning while a ticket or reply is written (progressive enhancement). The server's
// one detector answers /api/v1/sensitive/check; without JavaScript the form shows the same
// warning after it is sent. "Remove" takes the numbers out of the text here and now.
(function () {
  "use strict";
  if (!window.fetch) { return; }
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  document.querySelectorAll("[data-cpr-warning]").forEach(function (box) {
    var form = box.closest("form");
    if (!form) { return; }
    var fields = Array.prototype.slice.call(form.querySelectorAll("textarea, input[type=text]"));
    var removeButton = box.querySelector("[data-cpr-remove]");
    var found = {};
    var timer = null;

    // the choice to send with or without the number, offered as soon as it is seen (so
    // attachments chosen already are not lost to a round trip); gone again with the number
    function show(visible) {
      box.hidden = !visible;
      if (removeButton) { removeButton.hidden = !visible; }
      var choices = box.querySelector("[data-cpr-choices]");
      var template = box.querySelector("template[data-cpr-choices-template]");
      if (visible && !choices && template) {
        box.appendChild(template.content.cloneNode(true));
      } else if (!visible && choices && template) {
        choices.remove();
      }
    }

    function check() {
      var texts = fields.map(function (f) { return f.value; });
      fetch(box.getAttribute("data-check-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfMeta ? csrfMeta.content : ""},
        body: JSON.stringify({texts: texts})
      }).then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (!answer) { return; }
          found = {};
          var any = false;
          answer.results.forEach(function (result, index) {
            if (result.cpr.length) { found[index] = result.cpr; any = true; }
          });
          show(any);
        });
    }

    fields.forEach(function (field) {
      field.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(check, 400);
      });
    });
    if (removeButton) {
      removeButton.addEventListener("click", function () {
        Object.keys(found).forEach(function (index) {
          var field = fields[index];
          found[index].forEach(function (text) { field.value = field.value.split(text).join(""); });
        });
        found = {};
        show(false);
        fields[0].focus();
      });
    }
  });
})();
