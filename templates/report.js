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
})();
