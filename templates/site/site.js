/* Windstil review site: the recipients table, one recipient, the variants.
 *
 * Data comes from site/data/*.js (globals set by <script src>, because Chromium refuses
 * fetch() on file://). Everything from the data is written with textContent, never as
 * HTML. No dependencies, no network.
 */
(function () {
  "use strict";

  var PAGE_SIZE = 100;

  // The site's words in the project's language (site/data/text.js, made from the catalogue):
  // _("Page %(page)s of %(pages)s", {page: 1, pages: 3}). A message missing there shows as given.
  var TEXT = window.WINDSTIL_TEXT || { messages: {}, group: ".", decimal: ",", language: "nl" };

  function _(message, params) {
    var text = TEXT.messages.hasOwnProperty(message) ? TEXT.messages[message] : message;
    return text.replace(/%\((\w+)\)s/g, function (whole, name) {
      return params && params.hasOwnProperty(name) ? String(params[name]) : whole;
    });
  }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fold(text) {
    // Case- and accent-insensitive search: "jose" finds "José".
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function nlNumber(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, TEXT.group);
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var out = {};
    params.forEach(function (value, key) { out[key] = value; });
    return out;
  }

  function writeHash(state) {
    var params = new URLSearchParams();
    Object.keys(state).forEach(function (key) {
      if (state[key] !== "" && state[key] !== undefined && !(key === "page" && state[key] === 1)) {
        params.set(key, state[key]);
      }
    });
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function fillSelect(select, options) {
    options.forEach(function (option) {
      select.appendChild(el("option", { value: option[0], text: option[1] }));
    });
  }

  function setStatus(text) {
    var status = document.getElementById("status");
    if (status) status.textContent = text;
  }

  function pager(total, page, onPage) {
    var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    var current = Math.min(Math.max(1, page), pages);
    document.getElementById("page").textContent = _("Page %(page)s of %(pages)s", { page: current, pages: pages });
    var prev = document.getElementById("prev");
    var next = document.getElementById("next");
    prev.disabled = current <= 1;
    next.disabled = current >= pages;
    prev.onclick = function () { onPage(current - 1); };
    next.onclick = function () { onPage(current + 1); };
    return current;
  }

  function reasonText(codes, labels) {
    return codes.split(";").map(function (code) { return labels[code] || code; }).join(", ");
  }

  // The reviewer's "do not send" list, kept in this browser until it is downloaded for
  // `windstil approve RUN --exclude FILE`.
  function exclusions(run) {
    var key = "windstil:" + run + ":exclude";
    var set = {};
    try { set = JSON.parse(localStorage.getItem(key) || "{}") || {}; } catch (e) { set = {}; }
    return {
      has: function (id) { return set.hasOwnProperty(id); },
      set: function (id, on) {
        if (on) set[id] = 1; else delete set[id];
        try { localStorage.setItem(key, JSON.stringify(set)); } catch (e) { /* not remembered */ }
      },
      ids: function () { return Object.keys(set).sort(); },
      clear: function () {
        set = {};
        try { localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
      },
    };
  }

  function download(name, text) {
    var url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    var link = el("a", { href: url, download: name });
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  // ------------------------------------------------------------------ recipients table

  function recipientsPage() {
    var data = window.WINDSTIL_RECIPIENTS;
    if (!data) { setStatus(_("The data (%(file)s) is missing.", { file: "data/recipients.js" })); return; }
    var F = {};
    data.fields.forEach(function (name, i) { F[name] = i; });
    var rows = data.rows;
    var keys = rows.map(function (r) {
      return fold(r[F.name] + " " + r[F.customer] + " " + r[F.id] + " " + r[F.customer_id]);
    });
    var labels = data.labels;
    var excluded = exclusions(data.run);

    var managers = Object.keys(data.managers).map(function (id) { return [id, data.managers[id]]; });
    managers.sort(function (a, b) { return a[1].localeCompare(b[1], TEXT.language); });
    fillSelect(document.getElementById("f-am"), managers);
    var languages = {};
    rows.forEach(function (r) { languages[r[F.language]] = true; });
    fillSelect(document.getElementById("f-language"), Object.keys(languages).sort().map(function (l) {
      return [l, labels.language[l] || l];
    }));
    var outcome = document.getElementById("f-outcome");
    Object.keys(labels.skip).forEach(function (code) {
      outcome.appendChild(el("option", { value: "skip:" + code, text: _("skipped: %(reason)s", { reason: labels.skip[code] }) }));
    });
    fillSelect(document.getElementById("f-lint"), Object.keys(labels.lint).map(function (code) {
      return [code, labels.lint[code]];
    }));
    fillSelect(document.getElementById("f-checks"), Object.keys(labels.check).map(function (code) {
      return [code, _("check: %(check)s", { check: labels.check[code] })];
    }));

    var controls = {
      q: document.getElementById("f-search"),
      segment: document.getElementById("f-segment"),
      am: document.getElementById("f-am"),
      language: document.getElementById("f-language"),
      outcome: document.getElementById("f-outcome"),
      lint: document.getElementById("f-lint"),
      checks: document.getElementById("f-checks"),
    };
    var page = 1;
    function fromHash() {
      // The filters the address names: a link from the overview, or one typed or pasted in.
      var state = readHash();
      Object.keys(controls).forEach(function (key) { controls[key].value = state[key] || ""; });
      page = parseInt(state.page || "1", 10) || 1;
    }
    fromHash();

    function matches(r, f) {
      if (f.segment && r[F.segment] !== f.segment) return false;
      if (f.am && r[F.am] !== f.am) return false;
      if (f.language && r[F.language] !== f.language) return false;
      var nl = r[F.newsletter], al = r[F.alert];
      switch (f.outcome) {
        case "": break;
        case "newsletter": if (nl !== "") return false; break;
        case "alert": if (al !== "") return false; break;
        case "any": if (nl !== "" && al !== "") return false; break;
        case "none": if (nl === "" || al === "") return false; break;
        case "fallback": if (nl !== "" || !r[F.fallback]) return false; break;
        case "excluded": if (!excluded.has(r[F.id])) return false; break;
        default:
          var code = f.outcome.slice(5);
          if ((";" + nl + ";").indexOf(";" + code + ";") < 0 &&
              (";" + al + ";").indexOf(";" + code + ";") < 0) return false;
      }
      var lints = r[F.lints];
      if (f.lint === "any" && lints === "") return false;
      if (f.lint === "none" && lints !== "") return false;
      if (f.lint && f.lint !== "any" && f.lint !== "none" &&
          (";" + lints + ";").indexOf(";" + f.lint + ";") < 0) return false;
      var level = r[F.check_level], checks = r[F.checks];
      switch (f.checks) {
        case "": break;
        case "error": if (level !== "error") return false; break;
        case "warning": if (level !== "warning") return false; break;
        case "any": if (checks === "") return false; break;
        case "clean": if (checks !== "") return false; break;
        default: if ((";" + checks + ";").indexOf(";" + f.checks + ";") < 0) return false;
      }
      return true;
    }

    function outcomeCell(codes, made) {
      if (codes === "") return el("td", { className: "yes" }, made);
      return el("td", { className: "no", title: codes }, reasonText(codes, labels.skip));
    }

    function checkCell(level, codes, made) {
      if (!made) return el("td", null, "–");  // no message, nothing checked
      if (!codes) return el("td", { className: "yes" }, _("in order"));
      return el("td", { className: level === "error" ? "no" : "warn", "data-level": level },
        el("span", { className: "tag " + (level === "error" ? "bad" : "") }, labels.level[level] || level), " ",
        reasonText(codes, labels.check));
    }

    var filtered = [];
    function render() {
      var tbody = document.getElementById("rows");
      clear(tbody);
      page = pager(filtered.length, page, function (p) { page = p; render(); window.scrollTo(0, 0); });
      var start = (page - 1) * PAGE_SIZE;
      var fragment = document.createDocumentFragment();
      filtered.slice(start, start + PAGE_SIZE).forEach(function (i) {
        var r = rows[i];
        var link = el("a", { href: "recipient.html#" + encodeURIComponent(r[F.id]) }, r[F.name] || r[F.id]);
        var lints = r[F.lints];
        var out = excluded.has(r[F.id]);
        fragment.appendChild(el("tr", { "data-id": r[F.id], className: out ? "excluded" : "" },
          el("td", null, link, out ? el("span", { className: "tag bad" }, _("do not send")) : null,
            el("span", { className: "id" }, r[F.id])),
          el("td", null, r[F.customer]),
          el("td", null, el("span", { className: "seg seg-" + r[F.segment] }, r[F.segment])),
          el("td", null, data.managers[r[F.am]] || r[F.am]),
          el("td", null, r[F.language]),
          outcomeCell(r[F.newsletter], r[F.fallback] ? _("made (general)") : _("made")),
          outcomeCell(r[F.alert], _("made")),
          el("td", { className: lints ? "warn" : "" }, lints ? reasonText(lints, labels.lint) : "–"),
          checkCell(r[F.check_level], r[F.checks], r[F.newsletter] === "" || r[F.alert] === "")
        ));
      });
      tbody.appendChild(fragment);
      var total = rows.length;
      setStatus(filtered.length === total
        ? _("%(n)s recipients", { n: nlNumber(total) })
        : _("%(n)s of %(total)s recipients", { n: nlNumber(filtered.length), total: nlNumber(total) }));
      var hash = {};
      Object.keys(controls).forEach(function (key) { hash[key] = controls[key].value; });
      hash.page = page;
      writeHash(hash);
      showExclusions();
    }

    function showExclusions() {
      var n = excluded.ids().length;
      document.getElementById("excluded-count").textContent = n === 0
        ? _("Nobody excluded.")
        : n === 1 ? _("%(n)s recipient on the exclusion list.", { n: nlNumber(n) })
          : _("%(n)s recipients on the exclusion list.", { n: nlNumber(n) });
      document.getElementById("download-exclusions").disabled = n === 0;
      document.getElementById("clear-exclusions").disabled = n === 0;
    }
    document.getElementById("download-exclusions").addEventListener("click", function () {
      download(_("exclude-%(run)s.txt", { run: data.run }), excluded.ids().join("\n") + "\n");
    });
    document.getElementById("clear-exclusions").addEventListener("click", function () {
      if (window.confirm(_("Empty the exclusion list?"))) { excluded.clear(); apply(); }
    });

    function apply() {
      var f = {};
      Object.keys(controls).forEach(function (key) { f[key] = controls[key].value; });
      var q = fold(f.q.trim());
      filtered = [];
      for (var i = 0; i < rows.length; i++) {
        if ((q === "" || keys[i].indexOf(q) >= 0) && matches(rows[i], f)) filtered.push(i);
      }
      render();
    }

    var timer = null;
    controls.q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { page = 1; apply(); }, 120);
    });
    ["segment", "am", "language", "outcome", "lint", "checks"].forEach(function (key) {
      controls[key].addEventListener("change", function () { page = 1; apply(); });
    });
    document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
    document.getElementById("f-reset").addEventListener("click", function () {
      setTimeout(function () { page = 1; apply(); }, 0);
    });
    // apply() writes the address with replaceState, which fires no hashchange: this is a new
    // address from outside the page (a link followed, or one edited by hand).
    window.addEventListener("hashchange", function () { fromHash(); apply(); });
    apply();
  }

  // ------------------------------------------------------------------ one recipient

  function loadShard(number, done) {
    var loaded = window.WINDSTIL_DETAILS && window.WINDSTIL_DETAILS[number];
    if (loaded) { done(loaded); return; }
    var script = document.createElement("script");
    script.src = "data/details-" + number + ".js";
    script.onload = function () { done((window.WINDSTIL_DETAILS || {})[number] || null); };
    script.onerror = function () { done(null); };
    document.head.appendChild(script);
  }

  function fact(list, term, value) {
    if (value === "" || value === null || value === undefined) return;
    list.appendChild(el("dt", null, term));
    list.appendChild(el("dd", null, value));
  }

  function kb(bytes) {
    return (bytes / 1024).toFixed(1).replace(".", TEXT.decimal) + " KB";
  }

  // ------------------------------------------------------------------ checks and views

  var VIEWS = [
    ["light", _("Light")],
    ["dark", _("Dark (own styles, as Apple Mail)")],
    ["invert", _("Dark (inverted, as the Gmail app and Outlook)")],
    ["noimages", _("Images off")],
  ];

  function checkBox(findings, labels) {
    var box = el("div", { className: "checkbox" }, el("h3", null, _("Checks")));
    if (!findings.length) {
      box.appendChild(el("p", { className: "ok" }, _("Every check passed.")));
      return box;
    }
    var list = el("ul", { className: "checks" });
    findings.forEach(function (f) {
      list.appendChild(el("li", { className: "finding " + f[1], "data-check": f[0] },
        el("span", { className: "tag " + (f[1] === "error" ? "bad" : "") }, labels.level[f[1]] || f[1]), " ",
        el("strong", null, labels.check[f[0]] || f[0]), " ", el("code", { className: "code" }, f[0]), ": ", f[2],
        labels.fix[f[0]] ? el("span", { className: "fix" }, _("What to do: %(fix)s", { fix: labels.fix[f[0]] })) : null));
    });
    box.appendChild(list);
    return box;
  }

  function cut(text, limit) {
    text = String(text || "");
    return text.length <= limit ? text : text.slice(0, limit - 1).replace(/\s+\S*$/, "") + "…";
  }

  function inboxLine(message, inbox) {
    var box = el("div", { className: "inbox" }, el("h3", null, _("In the inbox")));
    var list = el("ul", { className: "inbox-lines" });
    (inbox ? inbox.clients : []).forEach(function (client) {
      list.appendChild(el("li", { className: "inbox-line", "data-client": client[0] },
        el("span", { className: "client" }, client[0]),
        el("span", { className: "from" }, inbox.sender),
        el("span", { className: "subject" }, cut(message.subject, client[1])),
        el("span", { className: "preheader" }, cut(message.preheader, client[2]))));
    });
    box.appendChild(list);
    box.appendChild(el("p", { className: "muted" },
      _("Approximate: how many characters of subject and preheader each program shows depends on screen and font.")));
    return box;
  }

  // Set `text` into `element`, each `…` span (a command) as <code>, as the overview shows warnings.
  function withCode(element, text) {
    element.textContent = "";
    text.split("`").forEach(function (part, i) {
      if (part) element.appendChild(i % 2 ? el("code", null, part) : document.createTextNode(part));
    });
  }

  function frameDocument(frame) {
    try { return frame.contentDocument; } catch (e) { return null; }
  }

  function applyView(frame, note, views) {
    var view = frame.getAttribute("data-view");
    frame.classList.toggle("inverted", view === "invert");
    note.textContent = "";
    if (view !== "dark" && view !== "noimages") return;
    var doc = frameDocument(frame);
    if (!doc || !doc.documentElement) {
      // The view cannot be made here: the message stays as sent, and so does the button pressed.
      frame.setAttribute("data-view", "light");
      views.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", b.getAttribute("data-view") === "light" ? "true" : "false");
      });
      withCode(note, _("This view changes the message itself; that is allowed only when the site is opened through `windstil preview` (a browser does not let a page from disk look into another file)."));
      return;
    }
    if (view === "dark") {
      var rules = darkStyles(doc);
      note.textContent = rules ? _("The message's own dark styles (prefers-color-scheme: dark).") :
        _("This message has no dark styles of its own: each mail program then chooses itself.");
    } else {
      var images = imagesOff(doc);
      note.textContent = !images ? _("This message has no images.") : images === 1
        ? _("%(n)s image replaced by its alt text.", { n: images })
        : _("%(n)s images replaced by their alt text.", { n: images });
    }
  }

  function darkStyles(doc) {
    // As Apple Mail does: the message's own @media (prefers-color-scheme: dark) rules apply.
    var count = 0;
    Array.prototype.forEach.call(doc.styleSheets, function (sheet) {
      var rules;
      try { rules = sheet.cssRules; } catch (e) { return; }
      for (var i = rules.length - 1; i >= 0; i--) {
        var rule = rules[i];
        if (rule.media && /prefers-color-scheme\s*:\s*dark/.test(rule.media.mediaText)) {
          var inner = Array.prototype.map.call(rule.cssRules, function (r) { return r.cssText; });
          sheet.deleteRule(i);
          inner.forEach(function (text, k) { sheet.insertRule(text, i + k); });
          count += inner.length;
        }
      }
    });
    doc.documentElement.style.colorScheme = "dark";
    return count;
  }

  function imagesOff(doc) {
    var images = Array.prototype.slice.call(doc.querySelectorAll("img"));
    images.forEach(function (img) {
      var alt = img.getAttribute("alt");
      var box = doc.createElement("span");
      box.setAttribute("data-windstil-alt", alt === null ? "missing" : "present");
      box.textContent = alt === null ? _("[image without alt text]") : alt;
      box.style.cssText = alt === "" ? "display:none" :
        "display:inline-block;border:1px dashed #7b8794;padding:2px 6px;font:14px/1.4 sans-serif;color:#1f2933;";
      img.parentNode.replaceChild(box, img);
    });
    return images.length;
  }

  function messageSection(section, kind, message, contactId, data, variant) {
    var body = section.querySelector(".body");
    clear(body);
    section.hidden = false;
    var labels = data.labels;
    if (!message.made) {
      body.appendChild(el("p", { className: "skipped" }, _("Not made: %(reasons)s.", {
        reasons: message.reasons.map(function (c) { return labels.skip[c] || c; }).join(", ") })));
      return;
    }
    var base = "../emails/" + encodeURIComponent(contactId) + "/" + kind;
    var info = el("div", { className: "info" });
    var meta = el("dl", { className: "facts" });
    fact(meta, _("Subject"), message.subject);
    fact(meta, _("Preheader"), message.preheader);
    fact(meta, _("Size"), _("%(size)s of 90 KB", { size: kb(message.bytes) }) + (message.over_budget ? _(" — too big") : ""));
    if (variant >= 0) {
      meta.appendChild(el("dt", null, _("Variant")));
      meta.appendChild(el("dd", null, el("a", { href: "variants.html#v=" + (variant + 1) }, _("variant %(n)s", { n: variant + 1 }))));
    }
    info.appendChild(meta);

    if (message.lints.length) {
      var lintList = el("ul", { className: "lints" });
      message.lints.forEach(function (lint) {
        lintList.appendChild(el("li", null, el("strong", null, labels.lint[lint[0]] || lint[0]), ": " + lint[1]));
      });
      info.appendChild(el("div", { className: "lintbox" }, el("h3", null, _("Lints")), lintList));
    } else {
      info.appendChild(el("p", { className: "ok" }, _("No lints.")));
    }

    info.appendChild(checkBox(message.checks || [], labels));
    info.appendChild(inboxLine(message, data.inbox));

    info.appendChild(el("h3", null, _("Text version")));
    info.appendChild(el("iframe", { className: "text", sandbox: "", src: base + ".txt", title: _("Text version") }));

    // allow-same-origin (never allow-scripts: an e-mail runs nothing) lets the views below
    // restyle the message when the site is served by `windstil preview`.
    var frame = el("iframe", {
      className: "mail w600 " + kind,
      sandbox: "allow-same-origin allow-popups allow-popups-to-escape-sandbox",
      src: base + ".html",
      title: kind === "newsletter" ? _("The newsletter as the recipient sees it") : _("The alert as the recipient sees it"),
      referrerpolicy: "no-referrer",
    });
    var widths = el("div", { className: "widths", role: "group", "aria-label": _("Width") });
    [["600", _("600 px (desktop)")], ["375", _("375 px (phone)")]].forEach(function (w) {
      var button = el("button", { type: "button", "data-width": w[0], "aria-pressed": w[0] === "600" ? "true" : "false" }, w[1]);
      button.addEventListener("click", function () {
        frame.className = "mail w" + w[0] + " " + kind + (frame.getAttribute("data-view") === "invert" ? " inverted" : "");
        widths.querySelectorAll("button").forEach(function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
      });
      widths.appendChild(button);
    });
    var viewNote = el("p", { className: "view-note muted", "aria-live": "polite" });
    var views = el("div", { className: "views", role: "group", "aria-label": _("View") });
    VIEWS.forEach(function (v) {
      var button = el("button", { type: "button", "data-view": v[0], "aria-pressed": v[0] === "light" ? "true" : "false" }, v[1]);
      button.addEventListener("click", function () {
        frame.setAttribute("data-view", v[0]);
        frame.classList.toggle("inverted", v[0] === "invert");
        views.querySelectorAll("button").forEach(function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        frame.src = base + ".html";  // a fresh copy: every view starts from the message as sent
      });
      views.appendChild(button);
    });
    frame.setAttribute("data-view", "light");
    frame.addEventListener("load", function () { applyView(frame, viewNote, views); });
    var links = el("p", { className: "links" },
      el("a", { href: base + ".html", target: "_blank", rel: "noopener" }, _("open the HTML on its own")), " · ",
      el("a", { href: base + ".txt", target: "_blank", rel: "noopener" }, _("text version")), " · ",
      el("a", { href: base + ".eml", download: "" }, _("download the .eml")));
    var why = el("div", { className: "whybox" });
    why.appendChild(el("h3", null, _("Why these items")));
    if (message.fallback) {
      why.appendChild(el("p", { className: "warn" }, _("Nothing personal scored: general items in the contact's language fill in.")));
    }
    var table = el("table", { className: "data why" },
      el("thead", null, el("tr", null, el("th", { scope: "col" }, "#"), el("th", { scope: "col" }, _("Item")),
        el("th", { scope: "col", className: "num" }, _("Score")), el("th", { scope: "col" }, _("Reasons")))));
    var tbody = el("tbody");
    message.items.forEach(function (item, i) {
      var about = data.items[item[0]] || [item[0], "", "", "", "", ""];
      var title = about[3] ? el("a", { href: about[3], target: "_blank", rel: "noopener noreferrer" }, about[0]) : el("span", null, about[0]);
      var reasons = el("ul", { className: "reasons" });
      item[2].forEach(function (reason) {
        reasons.appendChild(el("li", { className: reason[0] === "fallback" ? "warn" : "" },
          el("span", { className: "kind" }, labels.reason[reason[0]] || reason[0]),
          reason[1] ? ": " + reason[1] : "",
          el("span", { className: "points" }, " +" + reason[2])));
      });
      tbody.appendChild(el("tr", null,
        el("td", null, String(i + 1)),
        el("td", null, title, el("span", { className: "id" }, item[0] + (about[1] ? " · " + about[1] : ""))),
        el("td", { className: "num" }, String(item[1])),
        el("td", null, reasons)));
    });
    table.appendChild(tbody);
    why.appendChild(table);

    body.appendChild(el("div", { className: "split" },
      el("div", { className: "viewer" }, widths, views, viewNote, links, el("div", { className: "frame" }, frame)),
      info));
    body.appendChild(why);
  }

  function recipientPage() {
    var data = window.WINDSTIL_RECIPIENTS;
    if (!data) { setStatus(_("The data (%(file)s) is missing.", { file: "data/recipients.js" })); return; }
    var F = {};
    data.fields.forEach(function (name, i) { F[name] = i; });
    var index = {};
    data.rows.forEach(function (r, i) { index[r[F.id]] = i; });
    var excluded = exclusions(data.run);

    function show() {
      var id = decodeURIComponent(location.hash.replace(/^#/, ""));
      var position = index.hasOwnProperty(id) ? index[id] : -1;
      ["newsletter", "alert"].forEach(function (kind) { document.getElementById(kind).hidden = true; });
      clear(document.getElementById("facts"));
      if (position < 0) {
        document.getElementById("name").textContent = _("Recipient not found");
        setStatus(id ? _("No recipient with id %(id)s in this run.", { id: id }) : _("Choose a recipient in the list."));
        return;
      }
      var r = data.rows[position];
      document.title = (r[F.name] || r[F.id]) + " · Windstil " + data.run;
      document.getElementById("name").textContent = r[F.name] || r[F.id];
      var prev = document.getElementById("prev-recipient");
      var next = document.getElementById("next-recipient");
      prev.hidden = position === 0;
      next.hidden = position === data.rows.length - 1;
      document.getElementById("step-dot").hidden = prev.hidden || next.hidden;
      if (position > 0) prev.href = "#" + encodeURIComponent(data.rows[position - 1][F.id]);
      if (position < data.rows.length - 1) next.href = "#" + encodeURIComponent(data.rows[position + 1][F.id]);
      var button = document.getElementById("exclude");
      function showExcluded() {
        var out = excluded.has(r[F.id]);
        button.setAttribute("aria-pressed", out ? "true" : "false");
        button.textContent = out ? _("On the exclusion list — put back") : _("Do not send to this recipient");
        document.getElementById("exclude-note").hidden = !out;
      }
      button.onclick = function () { excluded.set(r[F.id], !excluded.has(r[F.id])); showExcluded(); };
      button.hidden = !(r[F.newsletter] === "" || r[F.alert] === "");
      showExcluded();
      setStatus(_("Loading…"));
      loadShard(Math.floor(position / data.shard), function (shard) {
        var d = shard && shard[r[F.id]];
        if (!d) { setStatus(_("The details of this recipient are missing.")); return; }
        setStatus("");
        var facts = document.getElementById("facts");
        fact(facts, _("Contact id"), r[F.id]);
        fact(facts, _("E-mail"), d.email ? d.email + (d.email_valid ? "" : _(" (invalid)")) : _("none"));
        fact(facts, _("Job title"), d.job_title);
        fact(facts, _("Customer"), r[F.customer] + " (" + r[F.customer_id] + ")" + (d.sector ? ", " + d.sector : ""));
        fact(facts, _("Segment"), r[F.segment]);
        fact(facts, _("Account manager"), data.managers[r[F.am]] || r[F.am]);
        fact(facts, _("Language"), data.labels.language[r[F.language]] || r[F.language]);
        fact(facts, _("Quiet"), r[F.quiet] ? (d.quiet_since ? _("yes, since %(date)s", { date: d.quiet_since }) : _("yes")) : _("no"));
        fact(facts, _("Newsletter opt-in"), d.opt_in ? _("yes") : _("no"));
        facts.appendChild(el("dt", null, _("Call")));
        var calls = el("dd", null);
        if (!d.calls.length) calls.appendChild(document.createTextNode(_("none this month")));
        d.calls.forEach(function (call, i) {
          if (i) calls.appendChild(el("br"));
          var who = call.list ? el("a", { href: "../" + call.list }, call.manager) : el("span", null, call.manager);
          calls.appendChild(who);
          calls.appendChild(document.createTextNode(
            (call.contact ? _(" calls %(contact)s", { contact: call.contact }) : " (" + (call.note || _("nobody to call")) + ")") +
            _(", by %(date)s · priority %(priority)s: %(reasons)s", { date: call.due, priority: call.priority, reasons: call.reasons.join(", ") })));
        });
        facts.appendChild(calls);
        messageSection(document.getElementById("newsletter"), "newsletter", d.newsletter, r[F.id], data, r[F.variant]);
        messageSection(document.getElementById("alert"), "alert", d.alert, r[F.id], data, d.alert_variant);
      });
    }
    window.addEventListener("hashchange", show);
    show();
  }

  // ------------------------------------------------------------------ variants

  function variantsPage() {
    var data = window.WINDSTIL_VARIANTS;
    if (!data) { setStatus(_("The data (%(file)s) is missing.", { file: "data/variants.js" })); return; }
    var storageKey = "windstil:" + data.run + ":checked";
    var checked = {};
    try { checked = JSON.parse(localStorage.getItem(storageKey) || "{}") || {}; } catch (e) { checked = {}; }
    function save() {
      try { localStorage.setItem(storageKey, JSON.stringify(checked)); } catch (e) { /* private mode: not remembered */ }
    }
    var variants = data.variants;
    var languages = {};
    variants.forEach(function (v) { languages[v.language] = true; });
    fillSelect(document.getElementById("f-language"), Object.keys(languages).sort().map(function (l) {
      return [l, data.labels.language[l] || l];
    }));
    var controls = {
      kind: document.getElementById("f-kind"),
      language: document.getElementById("f-language"),
      checked: document.getElementById("f-checked"),
    };
    var state = readHash();
    Object.keys(controls).forEach(function (key) { if (state[key]) controls[key].value = state[key]; });
    var page = parseInt(state.page || "1", 10) || 1;
    var focus = parseInt(state.v || "0", 10) || 0;
    if (focus) page = Math.ceil(focus / PAGE_SIZE);
    var filtered = [];

    function showCount() {
      var done = Object.keys(checked).length;
      setStatus(_("%(n)s of %(total)s variants · %(done)s looked at", { n: nlNumber(filtered.length), total: nlNumber(variants.length), done: nlNumber(done) }));
    }

    function render() {
      var tbody = document.getElementById("rows");
      clear(tbody);
      page = pager(filtered.length, page, function (p) { page = p; focus = 0; render(); window.scrollTo(0, 0); });
      var start = (page - 1) * PAGE_SIZE;
      filtered.slice(start, start + PAGE_SIZE).forEach(function (i) {
        var v = variants[i];
        var number = i + 1;
        var items = el("ol", { className: "items" });
        v.items.forEach(function (id) {
          var info = data.items[id];
          items.appendChild(el("li", null, info ? info[0] : id, el("span", { className: "id" }, id)));
        });
        var segments = Object.keys(v.segments).map(function (s) { return s + " " + nlNumber(v.segments[s]); }).join(", ");
        var box = el("input", { type: "checkbox", "aria-label": _("Variant %(n)s looked at", { n: number }) });
        box.checked = !!checked[number];
        box.addEventListener("change", function () {
          if (box.checked) checked[number] = 1; else delete checked[number];
          save();
          showCount();
        });
        // Ticked by the reviewer once the variant is read, not by opening it.
        var open = el("a", { className: "open", href: "recipient.html#" + encodeURIComponent(v.representative) },
          v.representative_name);
        var kindCell = el("td", null, v.kind === "newsletter" ? _("newsletter") : _("alert"));
        if (v.fallback) kindCell.appendChild(el("span", { className: "tag warn" }, _("general")));
        if (v.with_lints) kindCell.appendChild(el("span", { className: "tag warn" }, _("%(n)s with a lint", { n: nlNumber(v.with_lints) })));
        tbody.appendChild(el("tr", { id: "v" + number, className: number === focus ? "focus" : "" },
          el("td", null, String(number)),
          kindCell,
          el("td", null, v.language),
          el("td", { className: "num" }, nlNumber(v.count)),
          el("td", null, segments),
          el("td", null, items),
          el("td", null, open),
          el("td", null, box)));
      });
      showCount();
      var hash = {};
      Object.keys(controls).forEach(function (key) { hash[key] = controls[key].value; });
      hash.page = page;
      writeHash(hash);
      var target = focus && document.getElementById("v" + focus);
      if (target) target.scrollIntoView({ block: "center" });
    }

    function apply() {
      filtered = [];
      variants.forEach(function (v, i) {
        if (controls.kind.value && v.kind !== controls.kind.value) return;
        if (controls.language.value && v.language !== controls.language.value) return;
        if (controls.checked.value === "open" && checked[i + 1]) return;
        if (controls.checked.value === "done" && !checked[i + 1]) return;
        filtered.push(i);
      });
      render();
    }
    Object.keys(controls).forEach(function (key) {
      controls[key].addEventListener("change", function () { page = 1; focus = 0; apply(); });
    });
    apply();
  }

  var pages = { recipients: recipientsPage, recipient: recipientPage, variants: variantsPage };
  var start = pages[document.body.getAttribute("data-page")];
  if (start) start();
})();
