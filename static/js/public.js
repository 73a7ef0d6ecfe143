// Public pages: progressive enhancement only. Without JavaScript the link is still selectable.
(function () {
  "use strict";
  document.querySelectorAll(".js-copy").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-status-target"));
    if (!field) { return; }
    button.classList.remove("d-none");
    function say(text) { if (status) { status.textContent = text; } }
    button.addEventListener("click", function () {
      field.focus();
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { say(button.getAttribute("data-copied-text")); },
          function () { say(button.getAttribute("data-failed-text")); }
        );
        return;
      }
      // Plain-HTTP installations have no Clipboard API; the older command still works there.
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(button.getAttribute(copied ? "data-copied-text" : "data-failed-text"));
    });
  });
})();
