/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  /* Ask before destructive form posts (data-confirm="question"). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  /* Move focus to an error summary so keyboard and screen-reader users hear it first. */
  var summary = document.querySelector(".error-summary[data-focus]");
  if (summary) { summary.focus(); }

  /* The newsletter's live progress: polls GET /api/v1/newsletters/{id} while sending. */
  var panel = document.querySelector("[data-newsletter-progress]");
  if (panel) {
    var url = panel.getAttribute("data-newsletter-progress");
    var bar = panel.querySelector("progress");
    var text = panel.querySelector("#progress-text");
    var statusText = panel.querySelector('[data-field="status"]');
    var template = text ? text.getAttribute("data-template") : "";
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json", "X-CSRF-Token": csrf } })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (letter) {
          if (!letter) { return; }
          var p = letter.progress || {};
          var done = Math.max((p.recipients || 0) - (p.pending || 0), 0);
          bar.max = Math.max(p.recipients || 0, 1);
          bar.value = done;
          panel.setAttribute("data-status", letter.status);
          if (text && template) {
            text.textContent = template.replace("{sent}", p.sent || 0).replace("{failed}", p.failed || 0)
              .replace("{pending}", p.pending || 0).replace("{recipients}", p.recipients || 0);
          }
          if (statusText && panel.getAttribute("data-label-" + letter.status)) {
            statusText.textContent = panel.getAttribute("data-label-" + letter.status);
          }
          if (letter.status !== "sending") {
            Array.prototype.forEach.call(document.querySelectorAll("[data-while-sending]"), function (el) { el.hidden = true; });
          }
          if (letter.status === "sending" || (letter.status === "draft" && done === 0 && panel.getAttribute("data-watch"))) {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    if (panel.getAttribute("data-status") === "sending" || panel.getAttribute("data-watch")) { poll(); }
  }
})();
