// Review page: keyboard shortcuts and in-place decisions. Every form also works without this script.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const toast = document.getElementById("toast");

  function say(text, bad) {
    toast.textContent = text;
    toast.className = bad ? "bad" : "";
    toast.hidden = false;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { toast.hidden = true; }, bad ? 6000 : 2500);
  }

  async function post(form, extra) {
    const body = new URLSearchParams(new FormData(form));
    for (const [k, v] of Object.entries(extra || {})) body.set(k, v);
    const resp = await fetch(form.action, {
      method: "POST", body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { error: resp.status + " " + resp.statusText }; }
    if (!resp.ok || !data.ok) throw new Error(data.error || resp.statusText);
    return data;
  }

  // ---- queue ------------------------------------------------------------------------------------------
  const list = document.getElementById("qlist");
  if (list) {
    const rows = Array.from(list.querySelectorAll("li.q"));
    let current = -1;

    function select(i) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach((r, j) => r.classList.toggle("sel", j === current));
      const row = rows[current];
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
      const words = new Set((row.dataset.w || "").split(" ").filter(Boolean));
      document.querySelectorAll("#chunktext mark").forEach((m) => m.classList.toggle("hot", words.has(m.dataset.w)));
    }

    function pending(i) { return rows[i] && !rows[i].classList.contains("done"); }

    function advance() {
      for (let i = current + 1; i < rows.length; i++) if (pending(i)) return select(i);
      for (let i = 0; i < current; i++) if (pending(i)) return select(i);
      say("All queries of this chunk decided — n for the next chunk");
    }

    function mark(row, decision, data) {
      row.classList.add("done", "decided-" + decision);
      row.querySelector(".badge.status").textContent = { approve: "approved", reject: "rejected", edit: "edited" }[decision];
      if (decision === "edit" && data.text) {
        row.querySelector(".qtext").textContent = data.text;
        row.dataset.id = data.new_query_id;
        row.querySelectorAll('input[name="query_id"]').forEach((i) => { i.value = data.new_query_id; });
        row.querySelector("details.editbox").open = false;
      }
      row.querySelectorAll("button").forEach((b) => { b.disabled = decision === "reject"; });
    }

    async function decide(row, decision) {
      if (!row || row.classList.contains("decided-reject")) return;
      const form = decision === "edit" ? row.querySelector("form.edit") : row.querySelector("form.decide");
      row.classList.add("busy");
      try {
        const data = await post(form, decision === "edit" ? {} : { decision });
        mark(row, decision, data);
        say({ approve: "Approved", reject: "Rejected", edit: "Edit saved" }[decision]);
        if (rows.indexOf(row) === current) advance();
      } catch (err) {
        say(err.message, true);
      } finally {
        row.classList.remove("busy");
      }
    }

    function edit(row) {
      const box = row.querySelector("details.editbox");
      box.open = true;
      const input = box.querySelector('input[name="edited_text"]');
      input.focus();
      input.select();
    }

    rows.forEach((row, i) => {
      row.addEventListener("click", (ev) => { if (!ev.target.closest("form, summary, a")) select(i); });
      row.querySelector("form.decide").addEventListener("submit", (ev) => {
        ev.preventDefault();
        select(i);
        decide(row, ev.submitter ? ev.submitter.value : "approve");
      });
      const ef = row.querySelector("form.edit");
      ef.addEventListener("submit", (ev) => { ev.preventDefault(); select(i); decide(row, "edit"); });
      ef.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") { ev.preventDefault(); row.querySelector("details.editbox").open = false; select(i); }
      });
    });

    const bulk = document.getElementById("bulk");
    async function approveAll() {
      try {
        const data = await post(bulk);
        const ids = new Set(data.approved);
        rows.forEach((r) => { if (ids.has(r.dataset.id)) mark(r, "approve", data); });
        say("Approved " + data.approved.length + " queries of this chunk");
      } catch (err) { say(err.message, true); }
    }
    if (bulk) bulk.addEventListener("submit", (ev) => { ev.preventDefault(); approveAll(); });

    function go(id) { const a = document.getElementById(id); if (a) window.location.href = a.href; else say("No more chunks this way"); }

    document.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.target.closest("input, textarea, select")) return;
      const row = rows[current];
      switch (ev.key) {
        case "j": if (current >= rows.length - 1) go("next-chunk"); else select(current + 1); break;
        case "k": if (current <= 0) go("prev-chunk"); else select(current - 1); break;
        case "a": decide(row, "approve"); break;
        case "r": decide(row, "reject"); break;
        case "e": if (row) edit(row); break;
        case "A": if (bulk) approveAll(); break;
        case "n": go("next-chunk"); break;
        case "p": go("prev-chunk"); break;
        default: return;
      }
      ev.preventDefault();
    });

    document.querySelectorAll("#filters select").forEach((s) => s.addEventListener("change", () => s.form.submit()));
    select(0);
    document.body.dataset.ready = "1";
  }

  // ---- search playground ------------------------------------------------------------------------------
  document.querySelectorAll("form.failform").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const data = await post(form);
        say("Recorded as failed search #" + data.feedback_id + ", naming chunk " + data.chunk_id);
        const button = form.querySelector("button");
        button.textContent = "Recorded #" + data.feedback_id;
        button.disabled = true;
        form.closest("li, form").classList.add("recorded");
      } catch (err) { say(err.message, true); }
    });
  });
  if (document.body.dataset.page !== "queue") document.body.dataset.ready = "1";
})();
