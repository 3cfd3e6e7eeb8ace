// The console's one script. Pages work without it; with it, numbers refresh in place
// and files can be dropped on the upload form. No other script is loaded.
"use strict";

(function () {
  const PERIOD_MS = 2000;

  // Live numbers: the element with data-live-src names a JSON map of key -> text; every
  // element with a data-live attribute shows the text of its key.
  function startLive(root) {
    const source = root.getAttribute("data-live-src");
    let failures = 0;
    let timer = null;

    async function refresh() {
      timer = null;
      if (document.hidden) {
        return;
      }
      try {
        const answer = await fetch(source, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!answer.ok || !(answer.headers.get("content-type") || "").includes("json")) {
          throw new Error(String(answer.status));
        }
        const numbers = await answer.json();
        for (const element of root.querySelectorAll("[data-live]")) {
          const key = element.getAttribute("data-live");
          if (Object.prototype.hasOwnProperty.call(numbers, key) && element.textContent !== numbers[key]) {
            element.textContent = numbers[key];
            element.classList.remove("live-flash");
            void element.getBoundingClientRect(); // restart the animation
            element.classList.add("live-flash");
          }
        }
        failures = 0;
        root.setAttribute("data-live-at", String(Date.now()));
      } catch (error) {
        failures += 1;
        if (failures >= 5) {
          return; // signed out, or the server is gone: stop asking
        }
      }
      schedule();
    }

    function schedule() {
      if (timer === null) {
        timer = window.setTimeout(refresh, PERIOD_MS);
      }
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        schedule();
      }
    });
    schedule();
  }

  // Dropping files on the upload form puts them in its file input.
  function startDropzone(zone) {
    const input = zone.querySelector("input[type=file]");
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove("over");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      if (input && event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const root of document.querySelectorAll("[data-live-src]")) {
      startLive(root);
    }
    for (const zone of document.querySelectorAll("[data-dropzone]")) {
      startDropzone(zone);
    }
  });
})();
