// Floe explorer: refreshes the page's live sections (elements with data-live and an id) by
// fetching the same page again every data-refresh milliseconds, while the tab is visible.
// It only moves elements the explorer itself rendered (and escaped) from the fetched page into
// this one; it never builds HTML from strings.
(function () {
  "use strict";
  var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!(every > 0)) {
    return;
  }
  var busy = false;
  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var live = document.querySelectorAll("[data-live][id]");
        for (var i = 0; i < live.length; i++) {
          var fresh = doc.getElementById(live[i].id);
          if (fresh && fresh.hasAttribute("data-live")) {
            live[i].replaceWith(document.importNode(fresh, true));
          }
        }
        document.documentElement.removeAttribute("data-stale");
      })
      .catch(function () {
        // The daemon is restarting or unreachable: keep what is shown, and say it is stale.
        document.documentElement.setAttribute("data-stale", "true");
      })
      .finally(function () {
        busy = false;
      });
  }
  window.setInterval(refresh, every);
})();
