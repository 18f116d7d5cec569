// Canned replies and FAQ links go into the reply box in place (no reload), after the draft
// as without JavaScript, where the same buttons send the form and the page comes back.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-insert]");
    if (!button) { return; }
    var form = button.form;
    var select = form && form.querySelector("select[name=" + button.getAttribute("data-insert") + "]");
    var box = form && form.querySelector("textarea[name=body]");
    if (!select || !box || !select.selectedOptions.length) { return; }
    event.preventDefault();
    var text = select.selectedOptions[0].getAttribute("data-text") || "";
    var draft = box.value.replace(/\s+$/, "");
    box.value = draft ? draft + "\n\n" + text : text;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
