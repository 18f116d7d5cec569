// Progressive enhancement of "System - Kategori": split the one select into system → category.
(function () {
  "use strict";
  var select = document.querySelector(".topic-select select");
  if (!select) { return; }
  var groups = {};
  var order = [];
  Array.prototype.forEach.call(select.options, function (option) {
    if (!option.value) { return; }
    var parts = option.text.split(" - ");
    var system = parts[0];
    if (!groups[system]) { groups[system] = []; order.push(system); }
    groups[system].push({ value: option.value, label: parts.slice(1).join(" - ") || system, selected: option.selected });
  });
  var wrapper = document.createElement("div");
  wrapper.className = "field";
  var label = document.createElement("label");
  label.htmlFor = "topic-system";
  label.textContent = select.getAttribute("data-system-label") || "System";
  var systemSelect = document.createElement("select");
  systemSelect.id = "topic-system";
  var blank = document.createElement("option");
  blank.value = "";
  blank.textContent = "–";
  systemSelect.appendChild(blank);
  order.forEach(function (system) {
    var option = document.createElement("option");
    option.value = system;
    option.textContent = system;
    if (groups[system].some(function (g) { return g.selected; })) { option.selected = true; }
    systemSelect.appendChild(option);
  });
  wrapper.appendChild(label);
  wrapper.appendChild(systemSelect);
  var container = select.closest(".field");
  container.parentNode.insertBefore(wrapper, container);
  function fill() {
    var chosen = groups[systemSelect.value] || [];
    var current = select.value;
    select.innerHTML = "";
    var empty = document.createElement("option");
    empty.value = "";
    empty.textContent = "–";
    select.appendChild(empty);
    chosen.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.value;
      option.textContent = item.label;
      if (item.value === current) { option.selected = true; }
      select.appendChild(option);
    });
    select.disabled = chosen.length === 0;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }
  systemSelect.addEventListener("change", fill);
  fill();
})();
