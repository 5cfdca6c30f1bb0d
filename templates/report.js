"use strict";
// Filters and sorting for the server-rendered table; the page works fully without this script.
(function () {
  const table = document.getElementById("results");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const statusInputs = Array.from(document.querySelectorAll('input[name="status"]'));
  const digitSelect = document.getElementById("digit-filter");
  const nameInput = document.getElementById("name-filter");
  const textInput = document.getElementById("text-filter");
  const sortSelect = document.getElementById("sort");
  const shown = document.getElementById("shown");
  const empty = document.getElementById("empty");
  const cellFilter = document.getElementById("cell-filter");
  let order = "name"; // rows are rendered in natural name order

  function readState() {
    const params = new URLSearchParams(location.hash.slice(1));
    return {
      status: params.get("status") || "all",
      digit: params.get("digit") || "",
      q: params.get("q") || "",
      text: params.get("text") || "",
      sort: params.get("sort") || "name",
      truth: params.get("truth") || "",
      predicted: params.get("predicted") || "",
    };
  }

  function writeState(state) {
    const params = new URLSearchParams();
    if (state.status !== "all") params.set("status", state.status);
    if (state.digit) params.set("digit", state.digit);
    if (state.q) params.set("q", state.q);
    if (state.text) params.set("text", state.text);
    if (state.sort !== "name") params.set("sort", state.sort);
    if (state.truth) params.set("truth", state.truth);
    if (state.predicted) params.set("predicted", state.predicted);
    const hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function currentState() {
    const checked = statusInputs.find((input) => input.checked);
    const cell = readState(); // a confusion-matrix cell stays selected until "show all"
    return { status: checked ? checked.value : "all", digit: digitSelect.value, q: nameInput.value.trim().toLowerCase(),
             text: textInput.value.replace(/\s+/g, ""), sort: sortSelect.value, truth: cell.truth, predicted: cell.predicted };
  }

  function matches(row, state) {
    const status = row.dataset.status;
    if (state.status === "review" && row.dataset.review !== "yes") return false;
    if (state.status === "wrong" && row.dataset.wrong !== "yes") return false;
    if (!["all", "review", "wrong"].includes(state.status) && status !== state.status) return false;
    if (state.truth !== "" && row.dataset.truth !== state.truth) return false;
    if (state.predicted === "none" && status === "recognized") return false;
    if (state.predicted !== "" && state.predicted !== "none" && (status !== "recognized" || row.dataset.digit !== state.predicted)) return false;
    // A digit matches a lone digit read as it, or a number that holds it.
    if (state.digit !== "" && !row.dataset.text.includes(state.digit)) return false;
    if (state.text && !row.dataset.text.replace(/ /g, "").includes(state.text)) return false;
    if (state.q && !row.dataset.name.includes(state.q)) return false;
    return true;
  }

  function compare(sort) {
    // Rows are rendered in natural name order, so sorting by name restores that order.
    if (sort === "name") return (a, b) => Number(a.dataset.index) - Number(b.dataset.index);
    if (sort === "number") {
      // Shorter numbers first, then by their digits: numeric order without losing leading zeros.
      return (a, b) => {
        const ta = a.dataset.text, tb = b.dataset.text;
        if (ta === "" || tb === "") return (ta === "") - (tb === "");
        return ta.length - tb.length || (ta < tb ? -1 : ta > tb ? 1 : 0);
      };
    }
    const sign = sort === "confidence" ? 1 : -1;
    return (a, b) => {
      const ca = a.dataset.confidence === "" ? Infinity : Number(a.dataset.confidence);
      const cb = b.dataset.confidence === "" ? Infinity : Number(b.dataset.confidence);
      if (ca === cb) return 0;
      if (ca === Infinity) return 1;
      if (cb === Infinity) return -1;
      return sign * (ca - cb);
    };
  }

  function apply(state) {
    let visible = 0;
    for (const row of rows) {
      const show = matches(row, state);
      row.hidden = !show;
      if (show) visible += 1;
    }
    if (state.sort !== order) { // moving thousands of rows costs a layout: only when the order changes
      const ordered = rows.slice().sort(compare(state.sort));
      const fragment = document.createDocumentFragment();
      for (const row of ordered) fragment.appendChild(row);
      body.appendChild(fragment);
      order = state.sort;
    }
    cellFilter.hidden = state.truth === "" && state.predicted === "";
    cellFilter.firstElementChild.textContent = "Known digit " + (state.truth || "any") + ", read as " + (state.predicted || "any") + ".";
    shown.textContent = "Showing " + visible + " of " + rows.length;
    empty.hidden = visible !== 0 || rows.length === 0;
  }

  function setControls(state) {
    for (const input of statusInputs) input.checked = input.value === state.status;
    digitSelect.value = state.digit;
    nameInput.value = state.q;
    textInput.value = state.text;
    sortSelect.value = state.sort;
  }

  let timer = null;
  function update() {
    const state = currentState();
    writeState(state);
    apply(state);
  }
  for (const input of statusInputs) input.addEventListener("change", update);
  digitSelect.addEventListener("change", update);
  sortSelect.addEventListener("change", update);
  nameInput.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 150); });
  textInput.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 150); });
  window.addEventListener("hashchange", () => { const state = readState(); setControls(state); apply(state); });

  const initial = readState();
  setControls(initial);
  apply(initial);

  review(rows, body);
})();

// Review with the keyboard: j/k or arrows move, digits type the answer, Enter confirms, Esc undoes,
// n jumps to the next flagged row. Answers are kept in localStorage for this report's folder, so
// they survive a reload and are shared by the pages of a long report; "Export corrections"
// downloads them as corrections.csv (path,text), the file --labels reads.
function review(rows, body) {
  const panel = document.getElementById("review");
  const counter = document.getElementById("review-count");
  const notice = document.getElementById("review-notice");
  const exportButton = document.getElementById("export");
  if (!panel || rows.length === 0) return;
  panel.hidden = false;
  // Every page of a report lives in one folder, and one folder holds one report.
  const storageKey = "batchdigits.review:" + location.pathname.replace(/[^/]*$/, "");
  const byKey = new Map(rows.map((row) => [rowKey(row), row]));
  let answers = load();
  let current = null;
  let typed = "";
  const undo = []; // [key, the answer before (or null)], most recent last

  function rowKey(row) { return row.dataset.path + (row.dataset.page ? "\u0000" + row.dataset.page : ""); }

  function load() {
    try {
      const stored = JSON.parse(localStorage.getItem(storageKey) || "{}");
      return stored && stored.version === 1 && stored.answers && typeof stored.answers === "object" ? stored.answers : {};
    } catch (error) {
      if (error.name !== "SyntaxError") say("This browser does not keep answers (" + error.name + "): export them before closing the page.");
      return {};
    }
  }

  function save() {
    try {
      localStorage.setItem(storageKey, JSON.stringify({ version: 1, answers: answers }));
      return true;
    } catch (error) { // storage off (private mode, file:// settings) or full: say so, keep going
      say("This browser does not keep the answers (" + error.name + "): export them before closing the page.");
      return false;
    }
  }

  function show(row) {
    const answer = answers[rowKey(row)];
    row.classList.toggle("confirmed", !!answer && answer.text === row.dataset.text);
    row.classList.toggle("corrected", !!answer && answer.text !== row.dataset.text);
    let mark = row.querySelector(".person");
    const editing = row === current && typed !== "";
    if (!answer && !editing) {
      if (mark) mark.remove();
      return;
    }
    if (!mark) {
      mark = document.createElement("span");
      mark.className = "person";
      row.querySelector("td.status").appendChild(mark);
    }
    if (editing) {
      mark.textContent = "✎ typing " + typed + "▌ (Enter keeps, Esc drops)";
    } else if (answer.text === row.dataset.text) {
      mark.textContent = "✓ confirmed " + answer.text;
    } else {
      mark.textContent = "✎ corrected to " + answer.text;
    }
    mark.classList.toggle("typing", editing);
  }

  function count() {
    const flagged = rows.filter((row) => row.dataset.review === "yes");
    const left = flagged.filter((row) => !answers[rowKey(row)]).length;
    const reviewed = Object.keys(answers).length;
    // Against the model's answer as this page shows it (a later scan may read a row anew), as show() marks rows.
    const corrected = Object.entries(answers).filter(([key, answer]) => {
      const row = byKey.get(key);
      return answer.text !== (row ? row.dataset.text : answer.model);
    }).length;
    counter.textContent = (flagged.length ? left + " of " + flagged.length + " flagged left to review" : "Nothing flagged")
      + " · " + reviewed + " reviewed, " + corrected + " of them corrected";
    exportButton.disabled = reviewed === 0;
  }

  function visible() { return Array.from(body.rows).filter((row) => !row.hidden); }

  function select(row) {
    if (current === row || !row) return;
    const previous = current;
    typed = "";
    if (previous) {
      previous.classList.remove("current");
      previous.removeAttribute("aria-current");
      show(previous);
    }
    current = row;
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const shown = visible();
    if (shown.length === 0) return;
    const at = shown.indexOf(current);
    if (at === -1) select(step > 0 ? shown[0] : shown[shown.length - 1]);
    else select(shown[Math.min(Math.max(at + step, 0), shown.length - 1)]);
  }

  function nextFlagged() {
    const shown = visible();
    const start = shown.indexOf(current);
    for (let step = 1; step <= shown.length; step += 1) {
      const row = shown[(start + step + shown.length) % shown.length];
      if (row.dataset.review === "yes" && !answers[rowKey(row)]) {
        select(row);
        return;
      }
    }
    say("No flagged row left to review among those shown.");
  }

  function say(message) {
    notice.textContent = message;
    notice.hidden = false;
  }

  function decide(row, text) {
    const key = rowKey(row);
    undo.push([key, answers[key] || null]);
    answers[key] = { path: row.dataset.path, page: row.dataset.page || "", text: text, model: row.dataset.text };
    save();
    show(row);
    count();
  }

  function confirm() {
    if (!current) return;
    // The model's digits typed again (a number on two lines has no space to type) confirm it.
    const model = current.dataset.text;
    const text = typed === "" || typed === model.replace(/ /g, "") ? model : typed;
    if (text === "") {
      say("This image has no answer to confirm: type the digits it holds, then Enter.");
      return;
    }
    typed = "";
    decide(current, text);
    const shown = visible();
    const at = shown.indexOf(current);
    if (at !== -1 && at + 1 < shown.length) select(shown[at + 1]);
  }

  function cancel() {
    if (typed !== "") {
      typed = "";
      show(current);
      return;
    }
    const last = undo.pop();
    if (!last) {
      if (current && answers[rowKey(current)]) { // nothing undone yet here (e.g. after a reload): drop this row's answer
        delete answers[rowKey(current)];
        save();
        show(current);
        count();
      }
      return;
    }
    const [key, before] = last;
    if (before) answers[key] = before;
    else delete answers[key];
    save();
    const row = byKey.get(key);
    if (row) {
      show(row);
      if (!row.hidden) select(row);
    }
    count();
  }

  function type(digit) {
    if (!current) move(1);
    if (!current) return;
    if (current.dataset.status === "failed") {
      say("This file could not be read, so there is no picture to answer for.");
      return;
    }
    typed += digit;
    show(current);
  }

  function erase() {
    if (!current || typed === "") return;
    typed = typed.slice(0, -1);
    show(current);
  }

  function csvCell(value) {
    // Paths as results.csv writes them: a leading ' where a spreadsheet would run a formula.
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]|^\s|\s$/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function exportAnswers() {
    const entries = Object.values(answers).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : Number(a.page || 0) - Number(b.page || 0)));
    const paged = entries.some((answer) => answer.page);
    const lines = [paged ? "path,text,page" : "path,text"];
    for (const answer of entries) {
      lines.push(csvCell(answer.path) + "," + answer.text + (paged ? "," + answer.page : ""));
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    link.download = "corrections.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea")) {
      if (event.key === "Escape" && target.blur) target.blur(); // back to the rows
      return;
    }
    if (event.key === "Enter" && target.closest && target.closest("button, a, summary")) return; // theirs
    const actions = {
      j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
      n: nextFlagged, Enter: confirm, Escape: cancel, Backspace: erase,
    };
    const action = /^[0-9]$/.test(event.key) ? () => type(event.key) : actions[event.key];
    if (!action) return;
    notice.hidden = true;
    action();
    event.preventDefault();
  });
  body.addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row && !event.target.closest("a")) select(row);
  });
  exportButton.addEventListener("click", exportAnswers);
  window.addEventListener("storage", (event) => { // another page of this report changed the answers
    if (event.key !== storageKey) return;
    answers = load();
    rows.forEach(show);
    count();
  });
  rows.forEach(show);
  count();
}
