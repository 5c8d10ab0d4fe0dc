/* The staff pages' own script. No inline scripts anywhere: the Content Security Policy forbids them.
 *
 * 1. Idle timeout. The server signs staff out after STAFF_IDLE_TIMEOUT_SECONDS without a request
 *    (complaints/middleware.py). A minute before, this shows a dialog whose "Stay signed in" button
 *    pings the keep-alive endpoint. Someone typing a long note is not idle: while there is activity
 *    on the page the session is kept alive quietly. Tabs share the time of the last request, so
 *    work in one tab keeps the others from warning.
 * 2. Buttons with data-confirm ask before doing something that cannot be undone.
 * 3. A page shown again with form errors puts the focus on its list of problems.
 */
(function () {
  "use strict";

  function idleTimeout() {
    var dialog = document.getElementById("idle-warning");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var form = dialog.querySelector("form[data-keepalive]");
    var timeoutMs = parseInt(dialog.getAttribute("data-timeout"), 10) * 1000;
    if (!form || !(timeoutMs > 0)) return;
    var warnAfterMs = Math.max(timeoutMs - 60 * 1000, 0);
    // Quiet keep-alives while someone is working: at most this often.
    var quietPingMs = Math.max(Math.min(5 * 60 * 1000, warnAfterMs / 2), 5 * 1000);
    var storageKey = "staff-last-request";

    var lastRequest = Date.now(); // this page's own load was a request
    var lastActivity = 0;
    var pinging = false;

    function share() {
      try { window.localStorage.setItem(storageKey, String(lastRequest)); } catch (e) { /* private mode */ }
    }
    share();

    function ping(then) {
      if (pinging) return;
      pinging = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      }).then(function (response) {
        pinging = false;
        if (response.status === 204) {
          lastRequest = Date.now();
          share();
          if (then) then(true);
        } else {
          // Already signed out (the server redirected to the sign-in page): go there.
          window.location.reload();
        }
      }, function () {
        pinging = false;
        if (then) then(false);
      });
    }

    function close() {
      if (dialog.open) dialog.close();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      ping(function (ok) { if (ok) close(); });
    });
    // Escape on the dialog means "I am here": the same as "Stay signed in".
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      ping(function (ok) { if (ok) close(); });
    });

    function noteActivity() {
      if (!dialog.open) lastActivity = Date.now();
    }
    ["keydown", "pointerdown", "input", "wheel", "touchstart"].forEach(function (name) {
      document.addEventListener(name, noteActivity, { passive: true, capture: true });
    });

    window.addEventListener("storage", function (event) {
      if (event.key !== storageKey || !event.newValue) return;
      var other = parseInt(event.newValue, 10);
      if (other > lastRequest) {
        lastRequest = other;
        close();
      }
    });

    function tick() {
      var now = Date.now();
      var idleFor = now - lastRequest;
      if (idleFor >= timeoutMs + 2000) {
        // The server has signed us out by now; reloading shows the sign-in page and says why.
        window.location.reload();
        return;
      }
      if (!dialog.open && lastActivity > lastRequest && idleFor >= quietPingMs && idleFor < warnAfterMs) {
        ping(function (ok) { if (ok) close(); });
      } else if (!dialog.open && idleFor >= warnAfterMs) {
        dialog.showModal();
      }
    }
    window.setInterval(tick, 1000);
  }

  function confirmations() {
    document.addEventListener("submit", function (event) {
      var button = event.submitter;
      var question = (button && button.getAttribute("data-confirm")) ||
        event.target.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }

  // After a failed form, take keyboard and screen reader users straight to what went wrong.
  function focusErrors() {
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  idleTimeout();
  confirmations();
  focusErrors();
})();
