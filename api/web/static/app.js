// anvil's web page: a little script of our own (no library, no build step).
// Everything from the server is put in the page with textContent, never as HTML.
(function () {
  "use strict";
  var API = "/api/v1";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function api(method, path, body, contentType) {
    var headers = {"Accept": "application/json"};
    if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
    var init = {method: method, headers: headers, credentials: "same-origin"};
    if (body !== undefined) {
      if (contentType) { headers["Content-Type"] = contentType; init.body = body; }
      else { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    }
    return fetch(API + path, init).then(function (r) {
      if (r.status === 401) { window.location.href = "/login"; throw new Error("signed out"); }
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = {detail: t}; }
        return {ok: r.ok, status: r.status, data: data};
      });
    });
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function detailText(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map(function (d) { return d.msg || JSON.stringify(d); }).join("\n");
    return JSON.stringify(detail);
  }

  function fmtBest(best) {
    if (!best) return "";
    var parts = [];
    if (best.metric !== undefined && best.value !== undefined) parts.push(best.metric + " " + Number(best.value).toPrecision(4));
    if (best.params) parts.push(Object.keys(best.params).map(function (k) { return k + "=" + best.params[k]; }).join(" "));
    return parts.join(" · ") || JSON.stringify(best);
  }

  function pct(job) {
    var p = job.progress || {};
    if (!p.total) return job.status === "done" ? 100 : 0;
    return Math.min(100, Math.round(100 * (p.done || 0) / p.total));
  }

  // ---- jobs list -------------------------------------------------------------------
  function jobsPage() {
    var body = document.querySelector("#jobs tbody");
    var kind = document.getElementById("filter-kind");
    var status = document.getElementById("filter-status");
    var streams = {};

    function row(job) {
      var tr = el("tr");
      tr.id = "job-" + job.id;
      tr.setAttribute("data-status", job.status);
      tr.setAttribute("data-kind", job.kind);
      var a = el("a", job.id);
      a.href = "/jobs/" + encodeURIComponent(job.id);
      var td = el("td"); td.appendChild(a); tr.appendChild(td);
      tr.appendChild(el("td", job.kind));
      tr.appendChild(el("td", job.strategy, "strategy"));
      tr.appendChild(el("td", job.status, "status"));
      var prog = el("td", pct(job) + " %", "progress-cell");
      tr.appendChild(prog);
      tr.appendChild(el("td", fmtBest(job.best), "best"));
      tr.appendChild(el("td", (job.created_at || "").replace("T", " ").slice(0, 19)));
      return tr;
    }

    function watch(job) {
      if (streams[job.id] || (job.status !== "running" && job.status !== "queued")) return;
      if (Object.keys(streams).length >= 4) return;  // browsers allow ~6 connections a host; the list reloads anyway
      var es = new EventSource(API + "/jobs/" + encodeURIComponent(job.id) + "/events");
      streams[job.id] = es;
      es.addEventListener("progress", function (ev) {
        var p = JSON.parse(ev.data);
        var tr = document.getElementById("job-" + job.id);
        if (!tr) return;
        var total = p.total || 0;
        tr.querySelector(".progress-cell").textContent = (total ? Math.round(100 * p.done / total) : 0) + " %";
        if (p.status) { tr.querySelector(".status").textContent = p.status; tr.setAttribute("data-status", p.status); }
        if (p.best) tr.querySelector(".best").textContent = fmtBest(p.best);
      });
      ["done", "failed", "cancelled", "interrupted"].forEach(function (name) {
        es.addEventListener(name, function () { es.close(); delete streams[job.id]; load(); });
      });
      es.onerror = function () { es.close(); delete streams[job.id]; };
    }

    function load() {
      var q = "?limit=200" + (status.value ? "&status=" + encodeURIComponent(status.value) : "");
      api("GET", "/jobs" + q).then(function (r) {
        if (!r.ok) return;
        var jobs = r.data.data.filter(function (j) { return !kind.value || j.kind === kind.value; });
        body.textContent = "";
        jobs.forEach(function (j) { body.appendChild(row(j)); watch(j); });
        document.getElementById("jobs-empty").hidden = jobs.length > 0;
      });
    }
    kind.addEventListener("change", load);
    status.addEventListener("change", load);
    load();
    setInterval(load, 5000);
  }

  // ---- one job ---------------------------------------------------------------------
  function jobPage() {
    var box = document.getElementById("job");
    var id = box.getAttribute("data-job");
    var statusEl = document.getElementById("job-status");
    var cancel = document.getElementById("cancel");
    var resume = document.getElementById("resume");

    function show(job) {
      statusEl.textContent = job.status;
      box.setAttribute("data-status", job.status);
      var p = job.progress || {};
      document.getElementById("progress-fill").style.width = pct(job) + "%";
      document.getElementById("progress-text").textContent =
        (p.done || 0) + " of " + (p.total || "?") + " runs" + (p.failed ? " (" + p.failed + " failed)" : "") +
        (job.best ? " · best " + fmtBest(job.best) : "");
      var err = document.getElementById("job-error");
      err.hidden = !job.error; err.textContent = job.error || "";
      cancel.hidden = !(job.status === "running" || job.status === "queued");
      resume.hidden = !(job.status === "interrupted" || job.status === "cancelled" || job.status === "failed");
      document.getElementById("downloads").hidden = job.status === "queued";
      if (job.status === "done") {
        var frame = document.getElementById("report");
        if (!frame.getAttribute("src")) frame.setAttribute("src", API + "/jobs/" + encodeURIComponent(id) + "/report");
        document.getElementById("report-card").hidden = false;
      }
    }

    function follow() {
      var es = new EventSource(API + "/jobs/" + encodeURIComponent(id) + "/events");
      es.addEventListener("progress", function (ev) {
        var p = JSON.parse(ev.data);
        show({status: p.status || "running", progress: p, best: p.best});
      });
      ["done", "failed", "cancelled", "interrupted"].forEach(function (name) {
        es.addEventListener(name, function (ev) { es.close(); show(JSON.parse(ev.data)); });
      });
      es.onerror = function () { es.close(); };
    }

    cancel.addEventListener("click", function () {
      api("DELETE", "/jobs/" + encodeURIComponent(id)).then(function (r) {
        if (r.ok) show(r.data); else { var e = document.getElementById("job-error"); e.hidden = false; e.textContent = detailText(r.data.detail); }
      });
    });
    resume.addEventListener("click", function () {
      api("POST", "/jobs/" + encodeURIComponent(id) + "/resume").then(function (r) {
        if (r.ok) { show(r.data); follow(); } else { var e = document.getElementById("job-error"); e.hidden = false; e.textContent = detailText(r.data.detail); }
      });
    });
    api("GET", "/jobs/" + encodeURIComponent(id)).then(function (r) {
      if (r.ok) { show(r.data); if (r.data.status === "running" || r.data.status === "queued") follow(); }
    });
  }

  // ---- submit ----------------------------------------------------------------------
  function setPath(obj, path, value) {
    var keys = path.split(".");
    var o = obj;
    for (var i = 0; i < keys.length - 1; i++) { if (!(keys[i] in o)) o[keys[i]] = {}; o = o[keys[i]]; }
    o[keys[keys.length - 1]] = value;
  }

  function parseList(text) {
    return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) {
      if (s === "true") return true;
      if (s === "false") return false;
      var n = Number(s);
      return isNaN(n) ? s : n;
    });
  }

  function series(value) {
    var parts = value.split("|");
    return {symbol: parts[0], timeframe: parts[1] || "1d"};
  }

  function buildSpec(form) {
    var spec = {kind: form.getAttribute("data-kind"), strategy: form.getAttribute("data-strategy")};
    var picked = null;
    form.querySelectorAll("[data-path]").forEach(function (input) {
      var path = input.getAttribute("data-path");
      var kind = input.getAttribute("data-kind");
      var raw = input.value;
      if (kind === "bool") { setPath(spec, path, input.checked); return; }
      if (kind === "symbols") {
        picked = Array.prototype.filter.call(input.options, function (o) { return o.selected; })
          .map(function (o) { return series(o.value); });
        return;
      }
      if (kind === "symbol") {
        var parts = raw.split("|");
        setPath(spec, "data.symbol", parts[0]);
        setPath(spec, "data.timeframe", parts[1] || "1d");
        return;
      }
      if (raw === "") return;
      if (kind === "number" || kind === "int") { var n = Number(raw); setPath(spec, path, isNaN(n) ? raw : n); return; }
      if (kind === "list") { setPath(spec, path, parseList(raw)); return; }
      if (kind === "json") { setPath(spec, path, JSON.parse(raw)); return; }
      if ((path === "train" || path === "test") && /^\d+$/.test(raw)) { setPath(spec, path, Number(raw)); return; }
      setPath(spec, path, raw);
    });
    if (picked !== null) {  // several series: each gets the same time range
      var range = spec.data || {};
      var list = picked.map(function (d) {
        if (range.start) d.start = range.start;
        if (range.end) d.end = range.end;
        return d;
      });
      spec.data = list.length === 1 ? list[0] : list;
    }
    if (spec.space) {
      Object.keys(spec.space).forEach(function (name) {
        var s = spec.space[name];
        if (s.values) { spec.space[name] = s.values; return; }
        if (s.low !== undefined && s.low === s.high) { spec.space[name] = [s.low]; }
      });
    }
    return spec;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (e) { e.hidden = true; e.textContent = ""; });
    var fe = document.getElementById("form-error"); fe.hidden = true; fe.textContent = "";
  }

  function placeError(form, loc, msg) {
    var kind = form.getAttribute("data-kind");
    var path = loc.filter(function (p, i) { return !(i === 0 && p === "body"); });
    if (path.length && path[0] === kind) path = path.slice(1);
    if (path.length === 1 && path[0] === "config") {
      var m = /Config\.(\w+)/.exec(msg);
      if (m) path = ["config", m[1]];
    }
    for (var n = path.length; n > 0; n--) {
      var key = path.slice(0, n).join(".");
      var target = form.querySelector('[data-error-for="' + CSS.escape(key) + '"]');
      if (target) { target.textContent = msg; target.hidden = false; return; }
    }
    var fe = document.getElementById("form-error");
    fe.hidden = false;
    fe.textContent = (fe.textContent ? fe.textContent + "\n" : "") + (path.join(".") ? path.join(".") + ": " : "") + msg;
  }

  function submitPage() {
    var pick = document.getElementById("pick");
    ["pick-strategy", "pick-kind"].forEach(function (id) {
      var s = document.getElementById(id);
      if (s) s.addEventListener("change", function () { pick.submit(); });
    });
    var form = document.getElementById("job-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors(form);
      api("POST", "/jobs", buildSpec(form)).then(function (r) {
        if (r.ok) { window.location.href = "/jobs/" + encodeURIComponent(r.data.id); return; }
        var detail = r.data && r.data.detail;
        if (Array.isArray(detail)) detail.forEach(function (d) { placeError(form, d.loc || [], d.msg || ""); });
        else placeError(form, [], detailText(detail));
      });
    });
  }

  // ---- strategies ------------------------------------------------------------------
  function strategiesPage() {
    var form = document.getElementById("upload-strategy");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("upload-error"), ok = document.getElementById("upload-ok");
      err.hidden = true; ok.hidden = true;
      var file = document.getElementById("strategy-file").files[0];
      var read = file ? file.text() : Promise.resolve(document.getElementById("strategy-source").value);
      read.then(function (source) {
        return api("POST", "/strategies", {source: source});
      }).then(function (r) {
        if (r.ok) { ok.hidden = false; ok.textContent = "Uploaded " + r.data.name + " as " + r.data.id; setTimeout(function () { window.location.reload(); }, 600); }
        else { err.hidden = false; err.textContent = detailText(r.data && r.data.detail); }
      });
    });
  }

  // ---- data ------------------------------------------------------------------------
  function dataPage() {
    var form = document.getElementById("upload-data");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("data-error"), ok = document.getElementById("data-ok");
      err.hidden = true; ok.hidden = true;
      var file = document.getElementById("data-file").files[0];
      if (!file) return;
      var q = ["name=" + encodeURIComponent(file.name)];
      var sym = document.getElementById("data-symbol").value.trim();
      var tf = document.getElementById("data-timeframe").value.trim();
      if (sym) q.push("symbol=" + encodeURIComponent(sym));
      if (tf) q.push("timeframe=" + encodeURIComponent(tf));
      if (document.getElementById("data-skip-bad").checked) q.push("skip_bad=true");
      file.arrayBuffer().then(function (buf) {
        return api("POST", "/data?" + q.join("&"), buf, "application/octet-stream");
      }).then(function (r) {
        if (r.ok) { ok.hidden = false; ok.textContent = JSON.stringify(r.data, null, 2); setTimeout(function () { window.location.reload(); }, 1200); }
        else {
          err.hidden = false;
          var d = r.data && r.data.detail;
          err.textContent = detailText(d) + (Array.isArray(d) && d[0] && d[0].report ? "\n" + JSON.stringify(d[0].report, null, 2) : "");
        }
      });
    });
  }

  var pages = {jobs: jobsPage, job: jobPage, submit: submitPage, strategies: strategiesPage, data: dataPage};
  var page = document.body.getAttribute("data-page");
  if (pages[page]) pages[page]();
})();
