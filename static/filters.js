// Progressive enhancement for the table page's filter form: offer only the operators the
// chosen column accepts (the server checks them anyway), and no value box for IS NULL tests.
(function () {
  "use strict";
  var form = document.querySelector("form.add-filter");
  if (!form) { return; }
  var column = form.querySelector("#filter_column");
  var op = form.querySelector("#filter_op");
  var value = form.querySelector("#filter_value");
  var noValue = { isnull: true, notnull: true };

  function update() {
    var chosen = column.options[column.selectedIndex];
    var allowed = (chosen && chosen.getAttribute("data-ops") || "").split(" ");
    var firstAllowed = null;
    for (var i = 0; i < op.options.length; i++) {
      var option = op.options[i];
      var ok = allowed.indexOf(option.value) !== -1;
      option.hidden = !ok;
      option.disabled = !ok;
      if (ok && firstAllowed === null) { firstAllowed = option; }
    }
    if (op.selectedOptions.length === 0 || op.selectedOptions[0].disabled) {
      if (firstAllowed) { firstAllowed.selected = true; }
    }
    value.hidden = Boolean(noValue[op.value]);
  }

  column.addEventListener("change", update);
  op.addEventListener("change", update);
  update();
}());
