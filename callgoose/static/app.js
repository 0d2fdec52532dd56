// Copy buttons: <button data-copy="element-id">. The only script besides htmx.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});

// The live incident list: skip a poll while incidents are ticked for a bulk action, so a
// refresh never clears the ticks. (Focus survives a refresh: htmx restores it by element id.)
document.addEventListener("htmx:beforeRequest", function (event) {
  var rows = event.target;
  if (rows.id === "incident-rows" && rows.querySelector("input[type=checkbox]:checked")) {
    event.preventDefault();
  }
});

// Forms that take local times: send the browser's IANA time zone and name it on the page.
function fillZones() {
  var zone = (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "";
  if (!zone) return;
  document.querySelectorAll("input[data-browser-zone]").forEach(function (input) { input.value = zone; });
  document.querySelectorAll("[data-zone-name]").forEach(function (el) { el.textContent = zone; });
}
document.addEventListener("DOMContentLoaded", fillZones);
document.addEventListener("htmx:afterSettle", fillZones);
