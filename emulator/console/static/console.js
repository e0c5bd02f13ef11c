// smlocal console: refresh an endpoint's live figures and latency charts by short polling
// (no other script).
"use strict";
(function () {
  const table = document.getElementById("live");
  if (!table) return;
  const url = table.dataset.live;
  function show(value) {
    if (value === null || value === undefined) return "—";
    return typeof value === "number" ? value.toLocaleString("en-US", { maximumFractionDigits: 3 }) : String(value);
  }
  async function refresh() {
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!answer.ok) return;
      const variants = await answer.json();
      for (const row of table.querySelectorAll("tr[data-variant]")) {
        const figures = variants[row.dataset.variant];
        if (!figures) continue;
        for (const cell of row.querySelectorAll("td[data-field]")) {
          cell.textContent = show(figures[cell.dataset.field]);
        }
      }
      for (const chart of document.querySelectorAll("img.live-chart")) {
        chart.src = chart.src.split("?")[0] + "?at=" + Date.now();
      }
      table.dataset.refreshed = String(Date.now());
    } catch (error) {
      // the emulator stopped: keep the last figures
    }
  }
  setInterval(refresh, 2000);
})();
