// Fill in the reader's time zone from the browser, so digests arrive in their morning.
// Without JavaScript the site's own zone is used, and it can be changed later.
document.addEventListener("DOMContentLoaded", function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (!zone) { return; }
  document.querySelectorAll("[data-browser-timezone]").forEach(function (input) { input.value = zone; });
  document.querySelectorAll("[data-timezone-label]").forEach(function (label) { label.textContent = zone; });
});
