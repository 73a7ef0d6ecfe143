// ACC-1: the manager's timezone comes from the browser; the server falls back to UTC.
(function () {
  "use strict";
  var field = document.querySelector("input[name=timezone]");
  if (!field) { return; }
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (e) {
    field.value = "UTC";
  }
})();
