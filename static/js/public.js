/* The customer's pages: small enhancements on top of forms that work without any script.
 *
 * - The error summary is focused when the page loads, so screen readers announce it and keyboard
 *   users start from it; its links move focus to the field they are about.
 * - Long text boxes show a live character count (the server refuses too-long answers with a
 *   message; there is no maxlength to cut a customer's words off).
 * - A form marked data-prevent-double-click is sent once, however often its button is clicked
 *   (the server also makes a second "Send" harmless).
 *
 * Loaded with `defer` from the page's own origin: no inline scripts (Content Security Policy).
 */
(function () {
  "use strict";

  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) {
      return;
    }
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) {
        return;
      }
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) {
        return;
      }
      // A group of radios or tick boxes: focus its first control, but show its question.
      var control = target.matches("input, textarea, select")
        ? target
        : target.querySelector("input, textarea, select");
      if (!control) {
        return;
      }
      event.preventDefault();
      var legend = target.tagName === "FIELDSET" ? target.querySelector("legend") : null;
      var label = legend || document.querySelector("label[for='" + control.id + "']") || control;
      label.scrollIntoView();
      control.focus({ preventScroll: true });
    });
  }

  function characterCounts() {
    var boxes = document.querySelectorAll("textarea[data-maxchars]");
    Array.prototype.forEach.call(boxes, function (box) {
      var limit = parseInt(box.getAttribute("data-maxchars"), 10);
      if (!limit) {
        return;
      }
      var message = document.createElement("div");
      message.id = box.id + "_count";
      message.className = "form-text char-count";
      // Read out after a pause in typing, not at every key.
      var live = document.createElement("div");
      live.className = "visually-hidden";
      live.setAttribute("aria-live", "polite");
      box.insertAdjacentElement("afterend", live);
      box.insertAdjacentElement("afterend", message);
      var describedBy = box.getAttribute("aria-describedby");
      box.setAttribute("aria-describedby", (describedBy ? describedBy + " " : "") + message.id);

      var timer = null;
      // Characters as the server counts them: an emoji is one, not the two UTF-16 units of
      // value.length. (The box's value has one character for each line break, as the server.)
      function length() {
        return Array.from(box.value).length;
      }
      function text() {
        var left = limit - length();
        if (left >= 0) {
          return "You have " + left.toLocaleString("en-GB") + " character" +
            (left === 1 ? "" : "s") + " remaining";
        }
        return "You have " + (-left).toLocaleString("en-GB") + " character" +
          (left === -1 ? "" : "s") + " too many";
      }
      function update() {
        message.textContent = text();
        message.classList.toggle("char-count-over", length() > limit);
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
          live.textContent = text();
        }, 1000);
      }
      message.textContent = text();
      box.addEventListener("input", update);
    });
  }

  function sendOnce() {
    var forms = document.querySelectorAll("form[data-prevent-double-click]");
    Array.prototype.forEach.call(forms, function (form) {
      var sent = false;
      form.addEventListener("submit", function (event) {
        if (sent) {
          event.preventDefault();
          return;
        }
        sent = true;
        // Allow another try later if the page stays (a lost connection, the back button).
        window.setTimeout(function () {
          sent = false;
        }, 5000);
      });
    });
  }

  focusErrorSummary();
  characterCounts();
  sendOnce();
})();
