// TKT-5: drag a card to another column to change its state. The server decides; a refused
// move snaps back and says why. Without JavaScript each card's own form does the same.
(function () {
  "use strict";
  if (typeof Sortable === "undefined") { return; }
  var status = document.getElementById("kanban-status");
  var csrf = document.querySelector("#kanban-csrf input[name=csrfmiddlewaretoken]");

  function announce(text, ok) {
    status.textContent = text;
    var alert = document.createElement("div");
    alert.className = "alert alert-" + (ok ? "success" : "danger") + " alert-dismissible fade show";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    var close = document.createElement("button");
    close.type = "button"; close.className = "btn-close"; close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    alert.appendChild(close);
    var main = document.getElementById("main");
    main.insertBefore(alert, main.firstChild);
  }

  function snapBack(evt) {
    var ref = evt.from.children[evt.oldIndex] || null;
    evt.from.insertBefore(evt.item, ref);
  }

  // The card's own state form stays visible: it is the keyboard path (and the easy one on a phone).

  document.querySelectorAll(".kanban-dropzone").forEach(function (zone) {
    Sortable.create(zone, {
      group: "kanban",
      animation: 150,
      sort: false,
      onAdd: function (evt) {
        var card = evt.item;
        var target = evt.to.getAttribute("data-state");
        var body = new URLSearchParams();
        body.append("to_state", target);
        body.append("comment", "");
        fetch(card.getAttribute("data-url"), {
          method: "POST",
          headers: { "X-CSRFToken": csrf.value, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
          body: body.toString(),
          credentials: "same-origin"
        }).then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok && data.ok, data: data }; });
        }).then(function (result) {
          if (result.ok) {
            card.setAttribute("data-state", result.data.state);
            announce(result.data.message, true);
            // Allowed moves of the card changed with its state: reload to redraw its controls.
            window.setTimeout(function () { window.location.reload(); }, 600);
          } else {
            snapBack(evt);
            announce(result.data.message, false);
          }
        }).catch(function () {
          snapBack(evt);
          announce(status.getAttribute("data-error-text"), false);
        });
      }
    });
  });
})();
