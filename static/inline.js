// Editing a value in place on the table page. An editable cell takes focus (Tab reaches
// one cell of the table; the arrow keys move between editable cells); Enter, F2 or a
// double-click opens its editor. In the editor Enter saves, Escape cancels, and Tab saves
// and moves to the next editable cell (Shift+Tab: the previous one). Saves go to the
// record's /cell address: the record form's parsing, lost-update check and audit entry.
// Without this script the page's "Edit cells" view links each cell to the record form.
(function () {
  "use strict";
  var table = document.querySelector("table.rows[data-edit]");
  if (!table || !table.tBodies.length) return;
  var columns = JSON.parse(table.dataset.edit);
  var records = table.dataset.records;
  var tokenInput = document.querySelector("input[name=csrf_token]");
  var token = tokenInput ? tokenInput.value : "";
  var CHOICE_WIDGETS = ["bool", "enum", "select"];

  var status = document.createElement("p");
  status.className = "sr";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  var help = document.createElement("p");
  help.id = "inline-help";
  help.className = "sr";
  help.textContent = "Editable cell: press Enter or double-click to edit it. In the editor, " +
    "Enter saves, Escape cancels, Tab saves and moves to the next editable cell.";
  table.parentNode.insertBefore(status, table);
  table.parentNode.insertBefore(help, table);

  var cells = [];  // every editable cell, in reading order
  Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
    var box = row.querySelector("input[name=key][form=bulk]");
    if (!box) return;
    var first = row.cells.length - columns.length;
    columns.forEach(function (column, i) {
      var td = row.cells[first + i];
      if (!column || !td) return;
      td.dataset.cell = String(cells.length);
      td.tabIndex = -1;
      td.classList.add("editable");
      td.setAttribute("aria-describedby", "inline-help");
      cells.push({ td: td, key: box.value, column: column, row: row });
    });
  });
  if (!cells.length) return;
  cells[0].td.tabIndex = 0;
  var current = 0;   // the cell that holds the table's one tab stop
  var editing = null;

  function announce(text) {
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 30);
  }

  function cellUrl(cell) {
    return records + cell.key + "/cell?column=" + encodeURIComponent(cell.column);
  }

  function focusCell(i) {
    cells[current].td.tabIndex = -1;
    current = i;
    cells[i].td.tabIndex = 0;
    cells[i].td.focus();
  }

  function cellIndex(node) {
    var td = node && node.closest ? node.closest("td[data-cell]") : null;
    return td && table.contains(td) ? Number(td.dataset.cell) : -1;
  }

  // The answer as {ok, status, data}; an HTML error page (a refused token, a lost
  // session) gives its sentence as data.error.
  function read(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") >= 0) {
      return response.json().then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    }
    return response.text().then(function (text) {
      var page = new DOMParser().parseFromString(text, "text/html");
      var sentence = page.querySelector(".error-page p");
      var error = sentence ? sentence.textContent : "The server refused this (" +
        response.status + ").";
      return { ok: false, status: response.status, data: { error: error } };
    });
  }

  function offline() {
    return { ok: false, status: 0, data: { error: "The server could not be reached. Try again." } };
  }

  function start(i) {
    if (editing) {
      if (editing.index === i) return;
      cancel(false);
    }
    var cell = cells[i];
    focusCell(i);
    announce("Opening " + cell.column + "…");
    fetch(cellUrl(cell), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(read, offline)
      .then(function (answer) {
        if (editing) return;
        if (!answer.ok) {
          announce("Cannot edit " + cell.column + ": " + answer.data.error);
          flashError(cell.td, answer.data.error);
          return;
        }
        open(i, answer.data);
      });
  }

  function flashError(td, text) {
    td.title = text;
    td.classList.add("cell-refused");
    window.setTimeout(function () { td.classList.remove("cell-refused"); }, 2500);
  }

  function open(i, doc) {
    var cell = cells[i];
    var td = cell.td;
    var saved = document.createDocumentFragment();
    while (td.firstChild) saved.appendChild(td.firstChild);
    var form = document.createElement("form");
    form.className = "cell-editor";
    form.noValidate = true;
    var control;
    var choice = CHOICE_WIDGETS.indexOf(doc.widget) >= 0;
    if (choice) {
      control = document.createElement("select");
      if (doc.nullable || doc.text === doc.null_choice) {
        control.appendChild(new Option(doc.nullable ? "NULL" : "(choose)", doc.null_choice));
      }
      doc.options.forEach(function (pair) { control.appendChild(new Option(pair[1], pair[0])); });
      control.value = doc.null ? doc.null_choice : doc.text;
    } else if (doc.widget === "textarea") {
      control = document.createElement("textarea");
      control.rows = 3;
      control.value = doc.text;
    } else {
      control = document.createElement("input");
      control.type = "text";
      control.value = doc.text;
      if (doc.hint) control.placeholder = doc.hint;
    }
    if (doc.maxlength && !choice) control.maxLength = doc.maxlength;
    control.name = "value";
    control.setAttribute("aria-label", "New value of " + cell.column);
    form.appendChild(control);
    var nullBox = null;
    if (doc.nullable && !choice) {
      var label = document.createElement("label");
      label.className = "choice";
      nullBox = document.createElement("input");
      nullBox.type = "checkbox";
      nullBox.checked = doc.null;
      label.appendChild(nullBox);
      label.appendChild(document.createTextNode(" NULL"));
      form.appendChild(label);
      control.addEventListener("input", function () { nullBox.checked = false; });
    }
    var error = document.createElement("p");
    error.className = "field-error";
    error.id = "cell-error-" + i;
    error.hidden = true;
    form.appendChild(error);
    td.classList.add("editing");
    td.appendChild(form);
    editing = {
      index: i, cell: cell, saved: saved, form: form, control: control, nullBox: nullBox,
      error: error, choice: choice, doc: doc, version: doc.version, busy: false,
    };
    form.addEventListener("submit", function (event) { event.preventDefault(); save(null); });
    form.addEventListener("keydown", onEditorKey);
    control.focus();
    if (control.select && !choice) control.select();
    announce("Editing " + cell.column + ". Enter saves, Escape cancels, Tab moves on.");
  }

  function isNull(e) {
    if (e.choice) return e.control.value === e.doc.null_choice && e.doc.nullable;
    return Boolean(e.nullBox && e.nullBox.checked);
  }

  function changed(e) {
    if (isNull(e) !== Boolean(e.doc.null)) return true;
    return !isNull(e) && e.control.value !== e.doc.text;
  }

  function close(e, content, className) {
    var td = e.cell.td;
    var link = e.saved.querySelector ? e.saved.querySelector("a.edit-cell") : null;
    td.classList.remove("editing");
    if (content === null) {
      td.replaceChildren(e.saved);
    } else {
      td.innerHTML = content;  // the server's own markup of the value, escaped there
      if (link) { td.appendChild(document.createTextNode(" ")); td.appendChild(link); }
      td.className = (className ? className + " " : "") + "editable";
    }
    editing = null;
  }

  function cancel(refocus) {
    var e = editing;
    if (!e) return;
    close(e, null);
    if (refocus) e.cell.td.focus();
    announce("Edit cancelled.");
  }

  function showError(e, text) {
    e.error.textContent = text;
    e.error.hidden = false;
    e.control.setAttribute("aria-invalid", "true");
    e.control.setAttribute("aria-describedby", e.error.id);
    e.control.focus();
    announce("Not saved: " + text);
  }

  function conflict(e, data) {
    e.version = data.version;
    e.doc = Object.assign({}, e.doc, { text: data.current.text, null: data.current.null });
    e.error.replaceChildren();
    e.error.appendChild(document.createTextNode(data.error + " Now: "));
    var now = document.createElement("span");
    now.className = "cell-current";
    now.innerHTML = data.current.html;  // the server's own markup of the value
    e.error.appendChild(now);
    e.error.appendChild(document.createTextNode(" "));
    var retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button";
    retry.textContent = "Save mine";
    retry.addEventListener("click", function () { e.force = true; save(null); });
    var keep = document.createElement("button");
    keep.type = "button";
    keep.className = "button";
    keep.textContent = "Keep theirs";
    keep.addEventListener("click", function () {
      close(e, data.current.html, data.current.class);
      e.cell.td.focus();
      announce("Kept the current value.");
    });
    e.error.appendChild(retry);
    e.error.appendChild(keep);
    e.error.hidden = false;
    e.control.setAttribute("aria-invalid", "true");
    e.control.setAttribute("aria-describedby", e.error.id);
    announce("Not saved: " + data.error + " Now: " + now.textContent +
      ". Save mine writes your value over it; Keep theirs closes the editor.");
    retry.focus();
  }

  function save(then) {
    var e = editing;
    if (!e || e.busy) return;
    if (!changed(e) && !e.force) {
      close(e, null);
      announce("No change.");
      if (then) then(); else e.cell.td.focus();
      return;
    }
    e.busy = true;
    var body = new URLSearchParams();
    body.append("csrf_token", token);
    body.append("version", e.version);
    body.append("value", e.control.value);
    if (isNull(e)) body.append("null", "1");
    fetch(cellUrl(e.cell), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(read, offline)
      .then(function (answer) {
        e.busy = false;
        e.force = false;
        if (answer.ok) {
          close(e, answer.data.html, answer.data.class);
          announce(answer.data.message);
          if (then) then(); else e.cell.td.focus();
        } else if (answer.status === 409 && answer.data.current) {
          conflict(e, answer.data);
        } else {
          showError(e, answer.data.error || "Not saved.");
        }
      });
  }

  function onEditorKey(event) {
    var e = editing;
    if (!e) return;
    if (event.key === "Escape") {
      event.preventDefault();
      cancel(true);
    } else if (event.key === "Enter" && event.target === e.control) {
      if (e.control.tagName === "TEXTAREA" && event.shiftKey) return;  // a new line
      event.preventDefault();
      save(null);
    } else if (event.key === "Tab") {
      var inside = Array.prototype.slice.call(e.form.querySelectorAll("input, select, textarea, button"));
      var at = inside.indexOf(event.target);
      var next = at + (event.shiftKey ? -1 : 1);
      if (next >= 0 && next < inside.length) return;  // within the editor's own controls
      event.preventDefault();
      var step = event.shiftKey ? -1 : 1;
      var target = e.index + step;
      save(function () {
        if (target >= 0 && target < cells.length) start(target);
        else cells[e.index].td.focus();
      });
    }
  }

  table.addEventListener("keydown", function (event) {
    if (editing && editing.form.contains(event.target)) return;
    var i = cellIndex(event.target);
    if (i < 0 || event.target !== cells[i].td) return;
    var move = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (event.key === "Enter" || event.key === "F2") {
      event.preventDefault();
      start(i);
    } else if (move) {
      event.preventDefault();
      if (cells[i + move]) focusCell(i + move);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var down = event.key === "ArrowDown";
      for (var j = i + (down ? 1 : -1); j >= 0 && j < cells.length; j += down ? 1 : -1) {
        if (cells[j].column === cells[i].column && cells[j].row !== cells[i].row) {
          focusCell(j);
          break;
        }
      }
    }
  });
  table.addEventListener("dblclick", function (event) {
    var i = cellIndex(event.target);
    if (i < 0 || (editing && editing.index === i)) return;
    event.preventDefault();
    start(i);
  });
  table.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.edit-cell") : null;
    var i = cellIndex(link);
    if (i < 0) return;
    event.preventDefault();  // the "Edit cells" view's link: edit here instead
    start(i);
  });
  table.addEventListener("focusin", function (event) {
    var i = cellIndex(event.target);
    if (i >= 0 && event.target === cells[i].td && i !== current) {
      cells[current].td.tabIndex = -1;
      current = i;
      cells[i].td.tabIndex = 0;
    }
  });
})();
