// Notices for the desk: server messages and htmx `notice` events become toasts that fade away.
(function () {
  "use strict";

  var LIFETIME_MS = { success: 5000, info: 5000, warning: 8000, error: 10000 };

  function container() {
    return document.getElementById("notices");
  }

  function dismiss(toast) {
    if (!toast || toast.classList.contains("toast-leaving")) return;
    toast.classList.add("toast-leaving");
    // Remove after the CSS fade; also when reduced motion skips the transition.
    setTimeout(function () { toast.remove(); }, 400);
  }

  function schedule(toast, level) {
    var lifetime = LIFETIME_MS[level] || 6000;
    var timer = setTimeout(function () { dismiss(toast); }, lifetime);
    // Keep a toast while the pointer or keyboard focus is on it, so it can be read.
    toast.addEventListener("mouseenter", function () { clearTimeout(timer); });
    toast.addEventListener("focusin", function () { clearTimeout(timer); });
    toast.addEventListener("mouseleave", function () { timer = setTimeout(function () { dismiss(toast); }, 2000); });
  }

  function show(level, message) {
    var box = container();
    if (!box || !message) return;
    level = level || "info";
    var toast = document.createElement("div");
    toast.className = "toast toast-" + level;
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    var text = document.createElement("span");
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    toast.appendChild(text);
    toast.appendChild(close);
    box.appendChild(toast);
    schedule(toast, level);
  }

  window.deskNotice = show;

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".toast-close");
    if (button) dismiss(button.closest(".toast"));
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Messages rendered with the page fade like the others.
    document.querySelectorAll("#notices .toast").forEach(function (toast) {
      var level = (toast.className.match(/toast-(\w+)/) || [])[1];
      schedule(toast, level);
    });
  });

  // HX-Trigger: {"notice": {"items": [{"level": "success", "message": "..."}]}}
  document.body
    ? document.body.addEventListener("notice", onNotice)
    : document.addEventListener("DOMContentLoaded", function () { document.body.addEventListener("notice", onNotice); });

  function onNotice(event) {
    var items = (event.detail && event.detail.items) || [];
    items.forEach(function (item) { show(item.level, item.message); });
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 403) {
      show("error", "You are not allowed to do that.");
    } else if (status === 401 || status === 302) {
      show("error", "Your session has ended; sign in again.");
    } else {
      show("error", "The server could not answer (" + status + "). Try again in a moment.");
    }
  });

  // After a form comes back with errors, take keyboard and screen-reader focus to the first field to fix.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.xhr || event.detail.xhr.status !== 422) return;
    // The halt form's reason input is kept across redraws (hx-preserve), so it is found by its field's error.
    var from = event.detail.requestConfig && event.detail.requestConfig.elt;
    var fromHalt = from && from.id === "halt-form";
    var invalid = fromHalt
      ? document.querySelector("#risk-panel .has-error input")
      : document.querySelector("#order-panel [aria-invalid='true'], #order-panel .form-errors");
    if (invalid) {
      if (!invalid.matches("input, select, textarea")) invalid.setAttribute("tabindex", "-1");
      invalid.focus();
    }
  });

  var offline = false;
  document.addEventListener("htmx:sendError", function () {
    // Polling keeps failing while the server is down: say it once, not every few seconds.
    if (!offline) show("warning", "Cannot reach the server; the desk will update when it is back.");
    offline = true;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) offline = false;
  });
})();
