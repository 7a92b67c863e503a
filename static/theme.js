// The colour theme: the browser's preference (prefers-color-scheme, in app.css) unless this
// browser stored a choice. Loaded in <head> without defer, so data-theme is set before the
// page is first drawn and a stored choice never flashes the other theme.
(function () {
  "use strict";
  var KEY = "webapp-theme";
  var root = document.documentElement;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (e) {
      return null; // storage refused (private mode, blocked cookies): follow the browser
    }
  }

  function current() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) { return chosen; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches
      ? "dark" : "light";
  }

  function label(buttons) {
    var other = current() === "dark" ? "Light theme" : "Dark theme";
    buttons.forEach(function (button) {
      button.textContent = other;
      button.hidden = false;
    });
  }

  var initial = stored();
  if (initial) { root.setAttribute("data-theme", initial); }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = Array.prototype.slice.call(document.querySelectorAll(".theme-toggle"));
    label(buttons);
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var next = current() === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { window.localStorage.setItem(KEY, next); } catch (e) { /* kept for this page */ }
        label(buttons);
      });
    });
    if (window.matchMedia) {
      var query = window.matchMedia("(prefers-color-scheme: dark)");
      if (query.addEventListener) {
        query.addEventListener("change", function () { label(buttons); });
      }
    }
  });
}());
