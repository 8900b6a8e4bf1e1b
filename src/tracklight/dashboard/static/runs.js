// The runs table: collapsing a parent's children, and completing keys while a filter is typed.
(function () {
  "use strict";

  // --- Collapse and expand: a row hides while any of its ancestors is collapsed.
  function applyCollapsed(table) {
    var collapsed = {};
    table.querySelectorAll("button[data-toggle-children]").forEach(function (b) {
      if (b.getAttribute("aria-expanded") === "false") collapsed[b.getAttribute("data-toggle-children")] = true;
    });
    table.querySelectorAll("tr[data-ancestors]").forEach(function (row) {
      var hidden = row.getAttribute("data-ancestors").split(" ").some(function (id) { return collapsed[id]; });
      row.hidden = hidden;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-toggle-children]");
    if (!button) return;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    var label = button.getAttribute("aria-label") || "";
    button.setAttribute("aria-label", label.replace(/^(Hide|Show)/, open ? "Hide" : "Show"));
    button.firstElementChild.textContent = open ? "▾" : "▸";
    applyCollapsed(button.closest("table"));
  });

  // --- Filter completion: a listbox of the keys (and the grammar's prefixes) matching the word at the caret.
  var PREFIXES = ["params.", "metrics.", "tags.", "attributes."];
  var ATTRIBUTES = ["run_name", "status", "start_time", "end_time", "user_id", "run_id", "artifact_uri"];
  var keysByUrl = {};

  function loadKeys(url) {
    if (!keysByUrl[url]) {
      keysByUrl[url] = fetch(url, { credentials: "same-origin" }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      }).catch(function () { return { params: [], metrics: [], tags: [] }; });
    }
    return keysByUrl[url];
  }

  function quoted(key) {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : "`" + key.replace(/`/g, "``") + "`";
  }

  // The word being typed: letters, digits, dots, underscores, dashes and backquoted parts before the caret.
  function wordAt(input) {
    var caret = input.selectionStart == null ? input.value.length : input.selectionStart;
    var before = input.value.slice(0, caret);
    var m = before.match(/[A-Za-z0-9_.\-`/]*$/);
    return { start: caret - m[0].length, end: caret, text: m[0] };
  }

  function suggestions(word, keys) {
    var w = word.toLowerCase().replace(/`/g, "");
    if (!w) return [];
    var out = [];
    var dot = w.indexOf(".");
    if (dot < 0) {
      PREFIXES.forEach(function (p) { if (p.indexOf(w) === 0) out.push({ text: p, label: p }); });
      // A bare key name completes to whichever kinds log it.
      [["params", keys.params], ["metrics", keys.metrics], ["tags", keys.tags]].forEach(function (pair) {
        pair[1].forEach(function (k) {
          if (k.toLowerCase().indexOf(w) === 0) out.push({ text: pair[0] + "." + quoted(k), label: pair[0] + "." + k });
        });
      });
      return out.slice(0, 50);
    }
    var kind = w.slice(0, dot);
    var rest = w.slice(dot + 1);
    var pool = kind === "params" || kind === "param" ? keys.params
      : kind === "metrics" || kind === "metric" ? keys.metrics
      : kind === "tags" || kind === "tag" ? keys.tags
      : kind === "attributes" || kind === "attribute" || kind === "attr" ? ATTRIBUTES : null;
    if (!pool) return [];
    var name = kind.replace(/s?$/, "");
    var plural = name === "attribute" || name === "attr" ? "attributes" : name + "s";
    pool.forEach(function (k) {
      if (k.toLowerCase().indexOf(rest) === 0) out.push({ text: plural + "." + quoted(k), label: plural + "." + k });
    });
    return out.slice(0, 50);
  }

  function Completer(input) {
    this.input = input;
    this.list = document.getElementById(input.getAttribute("aria-controls"));
    this.items = [];
    this.active = -1;
    var self = this;
    input.addEventListener("input", function () { self.update(); });
    input.addEventListener("keydown", function (e) { self.key(e); });
    input.addEventListener("blur", function () { setTimeout(function () { self.close(); }, 150); });
    this.list.addEventListener("mousedown", function (e) {
      var li = e.target.closest("li[role=option]");
      if (!li) return;
      e.preventDefault();
      self.choose(Number(li.getAttribute("data-index")));
    });
    loadKeys(input.getAttribute("data-keys-url"));
  }

  Completer.prototype.update = function () {
    var self = this;
    var word = wordAt(this.input);
    loadKeys(this.input.getAttribute("data-keys-url")).then(function (keys) {
      if (wordAt(self.input).text !== word.text) return; // typing moved on
      self.show(suggestions(word.text, keys));
    });
  };

  Completer.prototype.show = function (items) {
    this.items = items;
    this.active = -1;
    this.list.textContent = "";
    var id = this.list.id;
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = id + "-" + i;
      li.setAttribute("data-index", String(i));
      li.setAttribute("aria-selected", "false");
      li.textContent = item.label;
      this.list.appendChild(li);
    }, this);
    var open = items.length > 0;
    this.list.hidden = !open;
    this.input.setAttribute("aria-expanded", open ? "true" : "false");
    this.input.removeAttribute("aria-activedescendant");
  };

  Completer.prototype.close = function () { this.show([]); };

  Completer.prototype.highlight = function (i) {
    var options = this.list.children;
    if (this.active >= 0 && options[this.active]) options[this.active].setAttribute("aria-selected", "false");
    this.active = i;
    if (i >= 0 && options[i]) {
      options[i].setAttribute("aria-selected", "true");
      options[i].scrollIntoView({ block: "nearest" });
      this.input.setAttribute("aria-activedescendant", options[i].id);
    }
  };

  Completer.prototype.choose = function (i) {
    var item = this.items[i];
    if (!item) return;
    var word = wordAt(this.input);
    var v = this.input.value;
    var addition = item.text + (/\.$/.test(item.text) ? "" : " ");
    this.input.value = v.slice(0, word.start) + addition + v.slice(word.end);
    var caret = word.start + addition.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    if (/\.$/.test(item.text)) this.update(); // a prefix: go on to its keys
  };

  Completer.prototype.key = function (e) {
    if (this.list.hidden) {
      if (e.key === "ArrowDown" && e.altKey) { this.update(); e.preventDefault(); }
      return;
    }
    var n = this.items.length;
    if (e.key === "ArrowDown") { this.highlight((this.active + 1) % n); e.preventDefault(); }
    else if (e.key === "ArrowUp") { this.highlight(this.active <= 0 ? n - 1 : this.active - 1); e.preventDefault(); }
    else if ((e.key === "Enter" || e.key === "Tab") && this.active >= 0) { this.choose(this.active); e.preventDefault(); }
    else if (e.key === "Escape") { this.close(); e.preventDefault(); }
  };

  function setup(root) {
    root.querySelectorAll("input[data-keys-url]").forEach(function (input) {
      if (!input.completer) input.completer = new Completer(input);
    });
    root.querySelectorAll("table.runs").forEach(applyCollapsed);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setup(document);
    if (window.htmx) window.htmx.onLoad(function (el) { setup(el.querySelectorAll ? el : document); });
  });
})();
