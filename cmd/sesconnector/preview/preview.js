// The preview's only script: the page follows the config file (Server-Sent Events), keeping the
// payload as typed, and each mail frame takes its content's height. The frames themselves run
// no script (sandbox without allow-scripts).
"use strict";

function fitFrames() {
  for (const frame of document.querySelectorAll("iframe.mail")) {
    const fit = () => {
      const doc = frame.contentDocument;
      if (doc && doc.documentElement) {
        frame.style.height = "0px"; // so that scrollHeight is the content's, not the frame's
        frame.style.height = doc.documentElement.scrollHeight + 2 + "px";
      }
    };
    frame.addEventListener("load", fit);
    fit();
  }
}

async function rerender() {
  const form = document.getElementById("payload");
  const query = new URLSearchParams(new FormData(form));
  const res = await fetch("/?" + query.toString(), { cache: "no-store" });
  const next = new DOMParser().parseFromString(await res.text(), "text/html");
  document.querySelector("main").replaceWith(next.querySelector("main"));
  document.getElementById("meta").replaceWith(next.getElementById("meta"));
  fitFrames();
}

document.addEventListener("DOMContentLoaded", () => {
  fitFrames();
  document.getElementById("width").addEventListener("change", (e) => {
    document.body.className = "width-" + e.target.value;
    fitFrames();
  });
  const events = new EventSource("/events");
  events.addEventListener("version", (e) => {
    if (e.data !== document.querySelector("main").dataset.version) {
      rerender();
    }
  });
});
