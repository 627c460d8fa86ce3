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
  function slugOf(title) {
    return title.toLowerCase()
      .replace(/ä/g, "ae").replace(/ö/g, "oe").replace(/ü/g, "ue").replace(/ß/g, "ss")
      .normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100).replace(/-+$/, "");
  }

  function suggestName(form) {
    var title = form.querySelector("#f-title");
    var name = form.querySelector("#f-name");
    if (!title || !name) { return; }
    var byHand = name.value !== "" && name.value !== slugOf(title.value);
    name.addEventListener("input", function () { byHand = name.value !== ""; });
    title.addEventListener("input", function () {
      if (!byHand) { name.value = slugOf(title.value); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // On narrow screens the search filters and the main menu start collapsed.
    if (window.matchMedia("(max-width: 760px)").matches) {
      document.querySelectorAll("details.filters, details.main-menu").forEach(function (d) {
        d.open = false;
      });
    }
    // Move focus to the error summary after a failed submission.
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
    // A new dataset's identifier (fixed once created) follows its title until edited by hand.
    var form = document.querySelector("form[data-suggest-name]");
    if (form) { suggestName(form); }
    // Select the new API token for copying.
    var secret = document.getElementById("new-secret");
    if (secret) { secret.addEventListener("focus", function () { secret.select(); }); }
  });
})();
