// Keyboard navigation, the only script: "/" focuses the search box; j/k (or the down/up arrows
// when no field has focus) move between results; Enter opens the one selected (it is a link).
// Every page works without it.
(function () {
  "use strict";
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function links() {
    return Array.prototype.slice.call(document.querySelectorAll("a.hit-link"));
  }
  function move(step) {
    var all = links();
    if (!all.length) { return; }
    var at = all.indexOf(document.activeElement);
    var next = at === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    var previous = document.querySelector("li.hit.current");
    if (previous) { previous.classList.remove("current"); }
    all[next].focus();
    var item = all[next].closest("li.hit");
    if (item) { item.classList.add("current"); item.scrollIntoView({ block: "nearest" }); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) { return; }
    if (event.key === "/") {
      var box = document.getElementById("q");
      if (box) { event.preventDefault(); box.focus(); box.select(); }
    } else if (event.key === "j" || event.key === "ArrowDown") {
      if (links().length) { event.preventDefault(); move(1); }
    } else if (event.key === "k" || event.key === "ArrowUp") {
      if (links().length) { event.preventDefault(); move(-1); }
    }
  });
})();
