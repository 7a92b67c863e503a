// Progressive enhancement for record forms; every form works without it.
// 1. Typing into a field unticks its NULL / "database default" boxes.
// 2. A foreign-key input with data-lookup gets search-as-you-type suggestions.
(function () {
  "use strict";
  document.querySelectorAll("input[data-clears]").forEach(function (box) {
    var field = document.getElementById(box.dataset.clears);
    if (!field) return;
    field.addEventListener("input", function () { box.checked = false; });
    field.addEventListener("change", function () { box.checked = false; });
  });

  document.querySelectorAll("input[data-lookup]").forEach(function (input, n) {
    var list = document.createElement("datalist");
    list.id = "lookup-" + n;
    input.after(list);
    input.setAttribute("list", list.id);
    var timer = null;
    var last = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value;
        if (q === last) return;
        last = q;
        fetch(input.dataset.lookup + "?q=" + encodeURIComponent(q), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            list.replaceChildren.apply(list, rows.map(function (row) {
              var option = document.createElement("option");
              option.value = row.key;
              option.label = row.label;
              return option;
            }));
          })
          .catch(function () {});
      }, 200);
    });
  });
})();
