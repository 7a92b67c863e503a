// The table page's bulk form, enhanced: "choose every row on this page", shift-click to
// choose a range, and a count of the chosen rows in the action bar (which CSS keeps in
// view). Without this script the boxes and the form work alone.
(function () {
  "use strict";
  var form = document.getElementById("bulk");
  if (!form) return;
  var boxes = Array.prototype.slice.call(
    document.querySelectorAll('input[type=checkbox][name=key][form=bulk]'));
  var all = document.querySelector("input.pick-page");
  var count = form.querySelector(".bulk-count");
  var scope = form.querySelector("select[name=scope]");
  var last = null;

  function update() {
    var chosen = boxes.filter(function (b) { return b.checked; }).length;
    if (count) count.textContent = chosen ? chosen + " chosen" : "";
    if (all) {
      all.checked = chosen > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
    if (chosen && scope) scope.value = "chosen";
    form.classList.toggle("active", chosen > 0);
  }

  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
  }
  boxes.forEach(function (box, index) {
    box.addEventListener("click", function (event) {
      if (event.shiftKey && last !== null) {
        var from = Math.min(last, index), to = Math.max(last, index);
        for (var i = from; i <= to; i++) boxes[i].checked = box.checked;
      }
      last = index;
      update();
    });
  });
  update();
})();
