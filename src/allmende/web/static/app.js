// allmende: small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";
  // Ask before destructive actions.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    // On narrow screens the search filters start collapsed.
    if (window.matchMedia("(max-width: 760px)").matches) {
      document.querySelectorAll("details.filters").forEach(function (d) { d.open = false; });
    }
    // Move focus to the error summary after a failed submission.
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
    // Select the new API token for copying.
    var secret = document.getElementById("new-secret");
    if (secret) { secret.addEventListener("focus", function () { secret.select(); }); }
  });
})();
