/* Sanad live forms: skip logic, required markers, calculations, choice filters and constraint
 * messages in the browser, from the compiled expressions the server sent (no framework).
 * The server re-checks everything on save; without JavaScript the form still works. */
(function () {
  "use strict";
  var X = window.SanadExpr;
  var formEl = document.getElementById("record-form");
  var defEl = document.getElementById("form-definition");
  if (!X || !formEl || !defEl) return;
  var def = JSON.parse(defEl.textContent);
  var stored = JSON.parse(document.getElementById("record-values").textContent || "{}");
  var today = formEl.getAttribute("data-today");
  // messages the browser builds itself, in the page's language (sent by the server)
  var M = Object.assign({
    required: "This field is required.", constraint: "This answer is not valid.",
    summary: "Please check these answers", problem: "%(label)s: %(message)s",
    row: "%(label)s: row %(n)s", yes: "Yes", no: "No"
  }, def.messages || {});
  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (all, key) { return values[key] !== undefined ? String(values[key]) : all; });
  }

  // -- compile once ------------------------------------------------------------------------
  function compileField(f) {
    var c = { def: f, id: f.id };
    ["relevant", "constraint", "calculate", "choice_filter"].forEach(function (k) {
      if (f[k]) c[k] = X.compile(f[k]);
    });
    if (f.required && typeof f.required === "object") c.required = X.compile(f.required);
    else c.requiredConst = !!f.required;
    if (f.fields) c.children = f.fields.map(compileField);
    return c;
  }
  var fields = def.fields.map(compileField);
  var byId = {};
  fields.forEach(function (c) { byId[c.id] = c; });
  var order = (def.order || []).filter(function (id) { return byId[id]; });
  fields.forEach(function (c) { if (order.indexOf(c.id) < 0) order.push(c.id); });

  // sections with a condition: their fieldset (and entry in the table of contents) hides with it
  var sections = [];
  (function collect(items) {
    (items || []).forEach(function (it) {
      if (!it.section) return;
      if (it.relevant) sections.push({ id: it.section, relevant: X.compile(it.relevant) });
      collect(it.items);
    });
  })(def.layout);

  // who reads whom (top level): a change re-evaluates only what depends on it
  var dependents = {};
  fields.forEach(function (c) {
    var asts = [c.def.relevant, c.def.calculate, c.def.required && typeof c.def.required === "object" ? c.def.required : null,
                c.def.choice_filter, c.def.constraint];
    (c.def.fields || []).forEach(function (inner) { asts.push(inner.relevant, inner.calculate); });
    asts.forEach(function (ast) {
      if (!ast) return;
      X.refs(ast).forEach(function (r) {
        var name = r.name;
        (dependents[name] = dependents[name] || new Set()).add(c.id);
      });
    });
  });

  // -- reading answers from the page ---------------------------------------------------------
  function container(name) { return formEl.querySelector('[data-name="' + CSS.escape(name) + '"]'); }
  function readValue(c, name) {
    var box = container(name);
    if (!box || box.querySelector("[data-readonly]")) return stored[c.id] === undefined ? "" : stored[c.id];
    var t = c.def.type;
    if (t === "select_multiple") {
      var picked = Array.prototype.map.call(box.querySelectorAll('input[type=checkbox]:checked'), function (i) { return i.value; });
      return picked.length ? picked : "";
    }
    if (t === "select_one" || t === "yes_no") {
      var sel = box.querySelector("select");
      if (sel) return sel.value;
      var r = box.querySelector("input[type=radio]:checked");
      return r ? r.value : "";
    }
    if (t === "calculate" || t === "note" || t === "subform") return "";
    var input = box.querySelector("input, textarea");
    if (!input) return "";
    var v = input.value;
    if (t === "integer" || t === "decimal") {
      v = v.replace(/[\u0660-\u0669]/g, function (d) { return String(d.charCodeAt(0) - 0x660); })
           .replace(/[\u06F0-\u06F9]/g, function (d) { return String(d.charCodeAt(0) - 0x6F0); }).trim();
      if (t === "decimal") v = v.replace(",", ".");
      if (v === "") return "";
      var n = Number(v);
      return isFinite(n) && /^-?(\d+\.?\d*|\.\d+)$/.test(v) ? n : v;
    }
    return t === "textarea" ? v : v.trim();
  }

  function rowsOf(c) {
    var box = container("f:" + c.id);
    if (!box) return [];
    return Array.prototype.filter.call(box.querySelectorAll("[data-rows-list] > fieldset.row"), function () { return true; });
  }

  // -- evaluation -----------------------------------------------------------------------------
  var values = Object.assign({}, stored);
  var state = {};  // id -> {relevant, required}

  function setHidden(el, hidden) { if (el) el.hidden = hidden; }

  // pos: the row's 1-based place among the subform's rows (position(..)); prev: its values from the
  // last evaluation (or as stored), whose calculations once() keeps
  function evalRow(sub, rowEl, parentValues, pos, prev) {
    var idx = rowEl.getAttribute("data-row");
    var row = {};
    var env = { v: row, up: [parentValues], today: today, dot: "", choice: null, pos: pos, own: "" };
    sub.children.forEach(function (c) {
      var name = "f:" + sub.id + "." + idx + "." + c.id;
      var box = rowEl.querySelector('[data-name="' + CSS.escape(name) + '"]');
      var rel = !c.relevant || X.truth(c.relevant(env));
      setHidden(box, !rel);
      if (!rel) { row[c.id] = ""; return; }
      if (c.calculate) {
        env.own = prev && prev[c.id] !== undefined && prev[c.id] !== null ? prev[c.id] : "";
        row[c.id] = c.calculate(env);
        env.own = "";
        var out = box && box.querySelector("output");
        if (out) out.textContent = displayFor(c, row[c.id]);
      } else {
        row[c.id] = box ? readValue(c, name) : "";
      }
      markRequired(box, c.required ? X.truth(c.required(env)) : c.requiredConst);
      filterChoices(c, box, env);
    });
    return row;
  }

  function displayFor(c, v) {
    if (c.def.choices && v !== "" && v !== null && v !== undefined) {
      var labels = {};
      c.def.choices.forEach(function (ch) { labels[ch.value] = ch.label; });
      var vals = Array.isArray(v) ? v : [v];
      // a calculation that joins several codes with spaces shows each code's label
      if (!Array.isArray(v) && labels[v] === undefined && String(v).trim().indexOf(" ") > 0) {
        var codes = String(v).trim().split(/\s+/);
        if (codes.every(function (x) { return labels[x] !== undefined; })) vals = codes;
      }
      return joinList(vals.map(function (x) { return labels[x] !== undefined ? labels[x] : String(x); }));
    }
    return display(v);
  }

  // a list as the page's language writes one ("A, B and C"; in Arabic "A وB وC")
  function joinList(items) {
    if (items.length < 2 || !window.Intl || !Intl.ListFormat) return items.join(", ");
    try {
      return new Intl.ListFormat(document.documentElement.lang || undefined, { type: "conjunction" }).format(items);
    } catch (e) {
      return items.join(", ");
    }
  }

  function display(v) {
    if (v === "" || v === null || v === undefined || (Array.isArray(v) && !v.length)) return "—";
    if (typeof v === "boolean") return v ? M.yes : M.no;
    if (Array.isArray(v)) return joinList(v.map(String));
    return String(v);
  }

  function markRequired(box, required) {
    if (!box) return;
    var mark = box.querySelector("[data-req]");
    if (mark) mark.hidden = !required;
    box.dataset.required = required ? "1" : "";
  }

  function filterChoices(c, box, env) {
    if (!c.choice_filter || !box) return;
    (c.def.choices || []).forEach(function (choice) {
      var keep = X.truth(c.choice_filter(Object.assign({}, env, { choice: choice })));
      box.querySelectorAll('[data-choice="' + CSS.escape(choice.value) + '"]').forEach(function (el) {
        el.hidden = !keep;
        if (el.tagName === "OPTION") el.disabled = !keep;
        var input = el.tagName === "LABEL" ? el.querySelector("input") : null;
        if (!keep && input && input.checked) input.checked = false;
        if (!keep && el.tagName === "OPTION" && el.selected) el.parentNode.value = "";
      });
    });
  }

  function evaluate(only) {
    var env = { v: values, up: [], today: today, dot: "", choice: null, pos: 0, own: "" };
    order.forEach(function (id) {
      if (only && !only.has(id)) return;
      var c = byId[id];
      var name = "f:" + id;
      var box = container(name);
      var rel = !c.relevant || X.truth(c.relevant(env));
      setHidden(box, !rel);
      if (!rel) { values[id] = c.def.type === "subform" ? [] : ""; state[id] = { relevant: false }; return; }
      if (c.calculate) {
        env.own = values[id] !== undefined && values[id] !== null ? values[id] : "";
        values[id] = c.calculate(env);
        env.own = "";
        var out = box && box.querySelector("output");
        if (out) out.textContent = displayFor(c, values[id]);
      } else if (c.children) {
        var before = Array.isArray(values[id]) ? values[id] : [];
        values[id] = rowsOf(c).map(function (rowEl, i) { return evalRow(c, rowEl, values, i + 1, before[i]); });
      } else {
        values[id] = readValue(c, name);
      }
      var req = c.required ? X.truth(c.required(env)) : c.requiredConst;
      markRequired(box, req);
      filterChoices(c, box, env);
      state[id] = { relevant: true, required: req };
    });
    sections.forEach(function (s) {
      var shown = X.truth(s.relevant(env));
      setHidden(formEl.querySelector('[data-section="' + CSS.escape(s.id) + '"]'), !shown);
      setHidden(document.querySelector('[data-toc="' + CSS.escape(s.id) + '"]'), !shown);
    });
  }

  function affected(id) {
    var out = new Set([id]);
    var queue = [id];
    while (queue.length) {
      var next = dependents[queue.shift()];
      if (!next) continue;
      next.forEach(function (d) { if (!out.has(d)) { out.add(d); queue.push(d); } });
    }
    return out;
  }

  function isEmpty(v) { return v === "" || v === null || v === undefined || (Array.isArray(v) && v.length === 0); }

  // -- errors ---------------------------------------------------------------------------------
  function fieldErrors(c, box, env, value) {
    if (!box || box.hidden) return null;
    var empty = value === "" || value === null || (Array.isArray(value) && value.length === 0);
    if (empty) return box.dataset.required ? (c.def.required_message || M.required) : null;
    if (c.constraint && !X.truth(c.constraint(Object.assign({}, env, { dot: value })))) {
      return c.def.constraint_message || M.constraint;
    }
    return null;
  }

  function showError(box, message) {
    var p = box.querySelector("[data-error]");
    if (p) { p.textContent = message || ""; p.hidden = !message; }
    box.classList.toggle("has-error", !!message);
    box.querySelectorAll("input, select, textarea").forEach(function (i) {
      if (message) i.setAttribute("aria-invalid", "true"); else i.removeAttribute("aria-invalid");
    });
  }

  function check(id, showMissing) {
    var c = byId[id];
    if (!c || c.calculate || c.children || c.def.type === "note") return null;
    var box = container("f:" + id);
    var msg = fieldErrors(c, box, { v: values, up: [], today: today, dot: "", choice: null }, values[id]);
    var missing = msg && isEmpty(values[id]);
    if (box) showError(box, missing && !showMissing ? null : msg);
    return msg ? { box: box, label: c.def.label, message: msg, missing: !!missing } : null;
  }

  // -- subform rows without a round trip ----------------------------------------------------------
  function updateRowMarker(subBox) {
    var marker = subBox.querySelector("[data-rows]");
    var ids = Array.prototype.map.call(subBox.querySelectorAll("[data-rows-list] > fieldset.row"), function (r) { return r.getAttribute("data-row"); });
    if (marker) marker.value = ids.join(",");
  }

  // a new row, with a stable id of its own (so that an offline edit and others' edits merge by row)
  function addRow(subBox, rowId) {
    var list = subBox.querySelector("[data-rows-list]");
    var used = Array.prototype.map.call(list.children, function (r) { return Number(r.getAttribute("data-row")) || 0; });
    var next = used.length ? Math.max.apply(null, used) + 1 : 0;
    var html = subBox.querySelector("template[data-row-template]").innerHTML.split("__row__").join(String(next));
    list.insertAdjacentHTML("beforeend", html);
    var row = list.lastElementChild;
    var legend = row.querySelector("legend");
    legend.textContent = fmt(M.row, { label: subBox.getAttribute("data-label") || "", n: list.children.length });
    var idInput = document.createElement("input");
    idInput.type = "hidden";
    idInput.name = "f:" + subBox.getAttribute("data-subform") + "." + next + "._row";
    idInput.value = rowId || newRowId();
    row.appendChild(idInput);
    updateRowMarker(subBox);
    return row;
  }

  function newRowId() {
    var bytes = new Uint8Array(6);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  formEl.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-row]");
    var remove = e.target.closest("[data-remove-row]");
    if (!add && !remove) return;
    var subBox = e.target.closest("[data-subform]");
    if (!subBox) return;
    e.preventDefault();
    if (add) {
      var row = addRow(subBox);
      evaluate(affected(subBox.getAttribute("data-subform")));
      var first = row.querySelector("input, select, textarea");
      if (first) first.focus();
    } else {
      var rowEl = e.target.closest("fieldset.row");
      rowEl.remove();
      updateRowMarker(subBox);
      evaluate(affected(subBox.getAttribute("data-subform")));
      subBox.querySelector("[data-add-row]").focus();
    }
  });

  function topId(target) {
    var box = target.closest("[data-field]");
    var sub = target.closest("[data-subform]");
    return sub ? sub.getAttribute("data-subform") : box ? box.getAttribute("data-field") : null;
  }

  formEl.addEventListener("input", function (e) {
    var id = topId(e.target);
    if (id) evaluate(affected(id));
  });
  formEl.addEventListener("change", function (e) {
    var id = topId(e.target);
    if (id) { evaluate(affected(id)); check(id); }
  });
  formEl.addEventListener("focusout", function (e) {
    var id = topId(e.target);
    if (id && byId[id] && !byId[id].children) check(id);
  });

  formEl.addEventListener("submit", function (e) {
    var action = e.submitter && e.submitter.value;
    if (action && action !== "save") return;  // row buttons without JS fall through to the server
    evaluate();
    var problems = [];
    order.forEach(function (id) { var p = check(id, false); if (p) problems.push(p); });
    var summary = document.querySelector("[data-error-summary]");
    // Missing required answers do not stop a save (a record is often completed over several
    // meetings; the server lists them after saving). Invalid answers do.
    var blocking = problems.filter(function (p) { return !p.missing; });
    if (!blocking.length) { if (summary) summary.hidden = true; return; }
    problems = blocking;
    e.preventDefault();
    var title = summary && summary.querySelector("[data-summary-title]");
    if (title) title.textContent = M.summary;
    if (!summary) return;
    var list = summary.querySelector("ul");
    list.innerHTML = "";
    problems.forEach(function (p) {
      var target = p.box.querySelector("input:not([type=hidden]), select, textarea");
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "#" + (target ? target.id || "" : "");
      a.textContent = fmt(M.problem, { label: p.label, message: p.message });
      a.addEventListener("click", function (ev) { ev.preventDefault(); if (target) target.focus(); });
      li.appendChild(a);
      list.appendChild(li);
    });
    summary.hidden = false;
    summary.focus();
  });

  // -- answers in and out, for the offline app ---------------------------------------------------
  function setBox(box, c, value) {
    var t = c.def.type;
    if (!box || box.querySelector("[data-readonly]")) return;
    if (t === "select_multiple") {
      var chosen = Array.isArray(value) ? value.map(String) : [];
      box.querySelectorAll("input[type=checkbox]").forEach(function (i) { i.checked = chosen.indexOf(i.value) >= 0; });
    } else if (t === "select_one" || t === "yes_no") {
      var sel = box.querySelector("select");
      if (sel) { sel.value = value == null ? "" : String(value); return; }
      box.querySelectorAll("input[type=radio]").forEach(function (i) { i.checked = i.value === (value == null ? "" : String(value)); });
    } else if (t !== "calculate" && t !== "note" && t !== "subform") {
      var input = box.querySelector("input:not([type=hidden]), textarea");
      if (input) input.value = value == null ? "" : String(value);
    }
  }

  function setValues(data) {
    data = data || {};
    Object.keys(stored).forEach(function (k) { delete stored[k]; });
    Object.assign(stored, data);
    fields.forEach(function (c) {
      if (c.children) {
        var subBox = container("f:" + c.id);
        if (!subBox) return;
        subBox.querySelectorAll("[data-rows-list] > fieldset.row").forEach(function (r) { r.remove(); });
        (Array.isArray(data[c.id]) ? data[c.id] : []).forEach(function (rowData) {
          var row = addRow(subBox, rowData && rowData._row);
          var idx = row.getAttribute("data-row");
          c.children.forEach(function (inner) {
            var box = row.querySelector('[data-name="' + CSS.escape("f:" + c.id + "." + idx + "." + inner.id) + '"]');
            setBox(box, inner, rowData ? rowData[inner.id] : "");
          });
        });
        updateRowMarker(subBox);
        return;
      }
      setBox(container("f:" + c.id), c, data[c.id]);
    });
    values = Object.assign({}, data);
    evaluate();
  }

  function rowValues(c) {
    return rowsOf(c).map(function (rowEl) {
      var idx = rowEl.getAttribute("data-row");
      var out = {};
      var idInput = rowEl.querySelector('input[name="' + CSS.escape("f:" + c.id + "." + idx + "._row") + '"]');
      if (idInput) out._row = idInput.value;
      c.children.forEach(function (inner) {
        if (inner.def.type === "calculate" || inner.def.type === "note") return;
        var name = "f:" + c.id + "." + idx + "." + inner.id;
        var box = rowEl.querySelector('[data-name="' + CSS.escape(name) + '"]');
        if (!box || box.hidden || box.querySelector("[data-readonly]")) return;
        out[inner.id] = readValue(inner, name);
      });
      return out;
    });
  }

  // the answers as the user left them: every editable question shown, "" for an empty one
  function currentValues() {
    evaluate();
    var out = {};
    fields.forEach(function (c) {
      var box = container("f:" + c.id);
      if (!box || c.def.type === "calculate" || c.def.type === "note" || box.querySelector("[data-readonly]")) return;
      out[c.id] = c.children ? (box.hidden ? [] : rowValues(c)) : (box.hidden ? "" : values[c.id]);
    });
    return out;
  }

  function problems() {
    evaluate();
    var found = [];
    order.forEach(function (id) { var p = check(id, true); if (p) found.push({ field: id, message: p.message, missing: p.missing }); });
    return found;
  }

  window.SanadForm = { setValues: setValues, values: currentValues, problems: problems, messages: M };

  evaluate();
  var shownSummary = document.querySelector("[data-error-summary]:not([hidden])");
  if (shownSummary) shownSummary.focus();
  formEl.dataset.live = "1";
  document.dispatchEvent(new CustomEvent("sanad:form-ready"));
})();
