// sqlfeat catalog: search over the embedded index and the tabs of a view page. No dependencies.
(function () {
  "use strict";

  function setupSearch() {
    var input = document.getElementById("search");
    var data = document.getElementById("search-index");
    if (!input || !data) return;
    var items = JSON.parse(data.textContent);
    var list = document.getElementById("search-results");
    var empty = document.getElementById("search-empty");

    function render() {
      var query = input.value.trim().toLowerCase();
      list.textContent = "";
      if (!query) { list.hidden = true; empty.hidden = true; return; }
      var terms = query.split(/\s+/);
      var found = items.filter(function (item) {
        var haystack = [item.kind, item.name, item.view || "", item.text || ""].join(" ").toLowerCase();
        return terms.every(function (term) { return haystack.indexOf(term) !== -1; });
      });
      found.sort(function (a, b) {
        return (b.name.toLowerCase().indexOf(query) === 0) - (a.name.toLowerCase().indexOf(query) === 0);
      });
      found.slice(0, 50).forEach(function (item) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = item.url;
        var kind = document.createElement("span");
        kind.className = "kind " + item.kind;
        kind.textContent = item.kind;
        var name = document.createElement("strong");
        name.textContent = item.name;
        var where = document.createElement("span");
        where.className = "where";
        where.textContent = (item.view ? item.view + " · " : "") + (item.text || "");
        a.append(kind, name, where);
        li.append(a);
        list.append(li);
      });
      list.hidden = found.length === 0;
      empty.hidden = found.length !== 0;
    }

    input.addEventListener("input", render);
    render();
  }

  function select(buttons, chosen) {
    buttons.forEach(function (button) { button.setAttribute("aria-selected", String(button === chosen)); });
  }

  function setupTabs() {
    var buttons = Array.prototype.slice.call(document.querySelectorAll(".tabs button[data-tab]"));
    function open(name) {
      var chosen = buttons.filter(function (b) { return b.dataset.tab === name; })[0];
      if (!chosen) return false;
      select(buttons, chosen);
      buttons.forEach(function (b) { document.getElementById("tab-" + b.dataset.tab).hidden = b !== chosen; });
      return true;
    }
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        open(button.dataset.tab);
        history.replaceState(null, "", "#" + button.dataset.tab);
      });
    });
    var hash = location.hash.slice(1);
    if (hash && !open(hash) && hash.indexOf("feature-") === 0) open("features");

    var dialects = Array.prototype.slice.call(document.querySelectorAll(".subtabs button[data-dialect]"));
    dialects.forEach(function (button) {
      button.addEventListener("click", function () {
        select(dialects, button);
        dialects.forEach(function (b) { document.getElementById("sql-" + b.dataset.dialect).hidden = b !== button; });
      });
    });
  }

  setupSearch();
  setupTabs();
})();
