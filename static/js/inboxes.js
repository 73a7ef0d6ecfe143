// "Test connection" without leaving the page (INB-3). Without JavaScript the same buttons submit
// the form and the server renders the result into the page.
(function () {
  "use strict";

  function runCheck(form, button, body) {
    var target = document.querySelector(".js-connection-target");
    if (!target) { return; }
    var label = button.textContent;
    button.disabled = true;
    button.textContent = button.getAttribute("data-testing-label") || label;
    fetch(form.getAttribute("action") || window.location.href, {
      method: "POST",
      body: body,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (html) {
      target.innerHTML = html;
    }).catch(function () {
      // Fall back to the plain form submission, which always works.
      form.dataset.plainSubmit = "1";
      form.requestSubmit(button);
    }).finally(function () {
      button.disabled = false;
      button.textContent = label;
    });
  }

  document.querySelectorAll(".js-inbox-form .js-test-connection").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (button.form.dataset.plainSubmit) { return; }
      event.preventDefault();
      var form = button.form;
      var body = new FormData(form);
      body.set("action", "test");
      runCheck(form, button, body);
    });
  });

  document.querySelectorAll("form.js-test-stored").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.plainSubmit) { return; }
      event.preventDefault();
      runCheck(form, form.querySelector("button[type=submit]"), new FormData(form));
    });
  });
})();
