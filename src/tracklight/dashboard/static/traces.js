// The trace page: fold a span's subtree, and mark the span whose details are shown.
(function () {
  "use strict";
  const tree = document.getElementById("span-tree");
  if (!tree) return;

  function rowsBelow(row) {
    // The rows after `row` that are deeper than it: its subtree, in tree order.
    const depth = Number(row.dataset.depth);
    const out = [];
    for (let r = row.nextElementSibling; r && Number(r.dataset.depth) > depth; r = r.nextElementSibling) out.push(r);
    return out;
  }

  tree.addEventListener("click", function (event) {
    const fold = event.target.closest("button.fold");
    if (fold) {
      const row = fold.closest("tr");
      const open = fold.getAttribute("aria-expanded") === "true";
      fold.setAttribute("aria-expanded", open ? "false" : "true");
      fold.textContent = open ? "▸" : "▾";
      for (const r of rowsBelow(row)) {
        if (open) r.hidden = true;
        else {
          r.hidden = false;
          const inner = r.querySelector("button.fold");
          if (inner) { inner.setAttribute("aria-expanded", "true"); inner.textContent = "▾"; }
        }
      }
      return;
    }
    const link = event.target.closest("a");
    if (link) {
      for (const r of tree.querySelectorAll("tr.sel")) r.classList.remove("sel");
      link.closest("tr").classList.add("sel");
    }
  });
})();
