// allmende: uploads a file to the API with a progress bar, follows the ingest job and opens the
// resource page when it is done. Texts come translated from the form's data-msg-* attributes;
// data from the server is only ever set as textContent.
(function () {
  "use strict";
  var POLL_MS = 500;

  function setup(form) {
    var status = form.querySelector("[data-upload-status]");
    var bar = status.querySelector("progress");
    var message = form.querySelector("[data-upload-message]");
    var errorBox = form.querySelector("[data-upload-error]");
    var button = form.querySelector("button[type=submit]");
    var text = function (key) { return form.getAttribute("data-msg-" + key) || ""; };

    function show(fraction, words) {
      status.hidden = false;
      if (fraction === null) { bar.removeAttribute("value"); } else { bar.value = fraction; }
      message.textContent = words;
    }

    function fail(problem) {
      button.disabled = false;
      status.hidden = true;
      errorBox.textContent = "";
      var heading = document.createElement("p");
      heading.className = "error-title";
      heading.textContent = text("failed");
      errorBox.appendChild(heading);
      var detail = document.createElement("p");
      // The server names the file by its temporary name (…-….upload); show the user's name.
      var chosen = form.querySelector("input[type=file]").files[0];
      var said = (problem && problem.message) || text("network");
      if (chosen) { said = said.replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.upload/g, chosen.name); }
      detail.textContent = said;
      errorBox.appendChild(detail);
      var fields = (problem && problem.fields) || [];
      if (fields.length) {
        var list = document.createElement("ul");
        fields.forEach(function (field) {
          var item = document.createElement("li");
          item.textContent = (field.field ? field.field + ": " : "") + (field.message || "");
          list.appendChild(item);
        });
        errorBox.appendChild(list);
      }
      errorBox.hidden = false;
      errorBox.focus();
    }

    // Messages from the API in the page's language, not the browser's.
    var pageLanguage = document.documentElement.lang || "de";

    function poll(url) {
      var request = new XMLHttpRequest();
      request.open("GET", url);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("Accept-Language", pageLanguage);
      request.onload = function () {
        var job;
        try { job = JSON.parse(request.responseText); } catch (e) { job = null; }
        if (request.status !== 200 || !job) { fail(job && (job.error || job)); return; }
        if (job.status === "done") {
          show(1, text("done"));
          window.location.assign("/resources/" + encodeURIComponent(job.result.resource));
        } else if (job.status === "failed") {
          fail(job.error);
        } else {
          show(job.progress || 0, job.message || text(job.status === "queued" ? "queued" : "running"));
          window.setTimeout(function () { poll(url); }, POLL_MS);
        }
      };
      request.onerror = function () { fail(null); };
      request.send();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      var file = form.querySelector("input[type=file]");
      if (!file.files.length) { fail({ message: text("nofile") }); return; }
      var data = new FormData(form);
      // Empty options mean "automatic": leave them out.
      ["name", "encoding", "delimiter", "header_row", "sheet", "crs", "fill_down"].forEach(function (key) {
        if (data.get(key) === "") { data.delete(key); }
      });
      button.disabled = true;
      show(0, text("uploading"));
      var request = new XMLHttpRequest();
      request.open("POST", form.getAttribute("action"));
      request.setRequestHeader("X-CSRF-Token", form.getAttribute("data-csrf"));
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("Accept-Language", pageLanguage);
      request.upload.onprogress = function (progress) {
        if (progress.lengthComputable) {
          show(progress.loaded / progress.total, text("uploading"));
        }
      };
      request.onload = function () {
        var body;
        try { body = JSON.parse(request.responseText); } catch (e) { body = null; }
        if (request.status !== 202 || !body) { fail(body && (body.error || body)); return; }
        show(0, text("queued"));
        poll(request.getResponseHeader("Location") || "/api/v1/jobs/" + body.id);
      };
      request.onerror = function () { fail(null); };
      request.send(data);
    });
    form.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload]").forEach(setup);
  });
})();
