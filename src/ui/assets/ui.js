// flowrun ui: enhancements only (the pages work without this file).
// Folding of JSON, copy buttons for commands, live status of running runs.
"use strict";

function folding() {
  const pre = document.getElementById("payload");
  if (!pre) return;
  for (const open of pre.querySelectorAll(".j-o")) {
    const body = open.nextElementSibling;
    if (!body || !body.classList.contains("j-c")) continue;
    open.classList.add("fold");
    open.title = "fold / unfold";
    open.addEventListener("click", () => {
      body.classList.toggle("hidden");
      open.classList.toggle("closed");
    });
  }
  const tools = document.createElement("div");
  tools.className = "tools";
  for (const [label, hide] of [["Fold all", true], ["Unfold all", false]]) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", () => {
      const opens = pre.querySelectorAll(".j-o.fold");
      opens.forEach((o, i) => {
        // Keep the outermost value open when folding all.
        const h = hide && i > 0;
        o.nextElementSibling.classList.toggle("hidden", h);
        o.classList.toggle("closed", h);
      });
    });
    tools.appendChild(b);
  }
  pre.parentNode.insertBefore(tools, pre);
}

function copyButtons() {
  for (const code of document.querySelectorAll("code.cmd")) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "copy";
    b.addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText(code.textContent);
      b.textContent = "copied";
    });
    code.after(b);
  }
}

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function seconds(m) {
  if (!m.finished_at) return "-";
  const d = (Date.parse(m.finished_at) - Date.parse(m.started_at)) / 1000;
  return isNaN(d) ? "-" : d.toFixed(2) + "s";
}

function liveList() {
  const table = document.getElementById("runs");
  if (!table) return;
  const tick = async () => {
    const rows = table.querySelectorAll("tr[data-status=running]");
    for (const row of rows) {
      try {
        const m = await getJson("/api/runs/" + encodeURIComponent(row.dataset.run));
        if (m.status === "running") continue;
        row.dataset.status = m.status;
        const st = row.querySelector(".st");
        st.textContent = "";
        const span = document.createElement("span");
        span.className = "status s-" + m.status;
        span.textContent = m.status;
        st.appendChild(span);
        row.querySelector(".took").textContent = seconds(m);
        const failed = m.error && m.error.step;
        row.querySelector(".failed").textContent = m.status === "failure" ? failed || "-" : "";
      } catch (e) { /* the next tick tries again */ }
    }
    if (table.dataset.page === "1") {
      const q = new URLSearchParams({ limit: "1" });
      if (table.dataset.flow) q.set("flow", table.dataset.flow);
      if (table.dataset.status) q.set("status", table.dataset.status);
      try {
        const top = await getJson("/api/runs?" + q);
        if (top.length && top[0].run_id !== table.dataset.newest) {
          document.getElementById("new-runs").hidden = false;
        }
      } catch (e) { /* ignore */ }
    }
  };
  setInterval(tick, 2000);
}

function liveRun() {
  const live = document.getElementById("live");
  if (!live || live.dataset.status !== "running") return;
  const tick = async () => {
    try {
      const m = await getJson("/api/runs/" + encodeURIComponent(live.dataset.run));
      if (m.status !== "running") location.reload();
    } catch (e) { /* ignore */ }
  };
  setInterval(tick, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  folding();
  copyButtons();
  liveList();
  liveRun();
});
