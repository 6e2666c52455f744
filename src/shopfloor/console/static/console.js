// Shopfloor console: progressive enhancement only. Every page works without this script.
"use strict";

// Forms that change something important ask first (data-confirm="question").
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// Uploads: drag and drop onto the drop zone, and a progress bar while the file travels.
function enhanceUpload(form) {
  const zone = form.querySelector("[data-drop]");
  const input = form.querySelector("input[type=file]");
  const bar = form.querySelector("[data-progress]");
  const status = form.querySelector("[data-status]");
  if (zone && input) {
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.remove("over");
    }));
    zone.addEventListener("drop", (e) => {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        if (status) status.textContent = "Ready: " + input.files[0].name;
      }
    });
  }
  form.addEventListener("submit", (event) => {
    if (event.defaultPrevented || !window.XMLHttpRequest) return;
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable || !bar) return;
      bar.hidden = false;
      bar.value = Math.round((100 * e.loaded) / e.total);
      if (status) status.textContent = e.loaded < e.total ? "Uploading… " + bar.value + " %" : "Checking and profiling the file…";
    });
    request.addEventListener("load", () => {
      const landed = request.responseURL || "";
      if (request.status < 400 && landed && landed !== form.action) {
        window.location.assign(landed);
        return;
      }
      // A rejection: show the page the server answered (its error and where), without running it.
      const answer = new DOMParser().parseFromString(request.responseText, "text/html");
      const main = answer.querySelector("main");
      if (main) document.querySelector("main").replaceChildren(...main.childNodes);
      const again = document.querySelector("form[data-upload]");
      if (again) enhanceUpload(again);
    });
    request.addEventListener("error", () => { if (status) status.textContent = "The upload failed: the server could not be reached."; });
    request.send(new FormData(form));
  });
}
document.querySelectorAll("form[data-upload]").forEach(enhanceUpload);

// A job page follows its job until it ends, then reloads once to show the result.
function followJob(section) {
  const id = section.getAttribute("data-job");
  const field = (name) => section.querySelector("[data-field=" + name + "]");
  const tick = async () => {
    let job;
    try {
      const answer = await fetch("/jobs/" + encodeURIComponent(id) + "/status", { credentials: "same-origin" });
      if (!answer.ok) return;
      job = await answer.json();
    } catch (e) { return; }
    field("status").textContent = job.status;
    field("status").className = "status " + job.status;
    field("stage").textContent = job.stage || "";
    field("message").textContent = job.message || "";
    field("progress").value = job.progress;
    field("duration").textContent = job.duration || "";
    if (["succeeded", "failed", "cancelled"].includes(job.status)) {
      window.location.reload();
      return;
    }
    window.setTimeout(tick, 1000);
  };
  window.setTimeout(tick, 1000);
}
document.querySelectorAll("[data-job][data-terminal=no]").forEach(followJob);

// The training form: a new dataset or task shows its fields at once.
document.querySelectorAll("[data-rechoose]").forEach((select) => {
  select.addEventListener("change", () => {
    const button = select.form.querySelector("[data-choose]");
    if (button) button.click();
  });
});

// Forms marked data-live="#target" answer as you type: the target is replaced from the answer.
document.querySelectorAll("form[data-live]").forEach((form) => {
  const target = form.getAttribute("data-live");
  let timer = null;
  const send = async () => {
    const answer = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const fresh = page.querySelector(target);
    const here = document.querySelector(target);
    if (fresh && here) here.replaceChildren(...fresh.childNodes);
  };
  form.addEventListener("input", () => { window.clearTimeout(timer); timer = window.setTimeout(send, 400); });
});

// A new key's secret is selected when focused, ready to copy.
document.querySelectorAll("[data-select]").forEach((input) => input.addEventListener("focus", () => input.select()));
