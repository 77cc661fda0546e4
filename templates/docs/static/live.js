/* orch ui: the live views, on top of the docs site's script (app.js, window.orchDocs).
 *
 * Loaded only when `orch ui` serves the page (its <meta name="orch-live"> holds the server's
 * token, sent in the X-Orch-Token header of every POST). Same safety rule as app.js: every
 * string reaches the page through textContent / setAttribute, never as markup.
 */
(function () {
  "use strict";
  var O = window.orchDocs, el = O.el, svg = O.svg, clear = O.clear, D = O.data();
  var TOKEN = document.querySelector('meta[name="orch-live"]').getAttribute("content");
  var BUILDABLE = { sql: 1, python: 1, seed: 1 };

  // ------------------------------------------------------------------ the API
  function api(method, path, body) {
    var opts = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["X-Orch-Token"] = TOKEN;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { var e = new Error(j.error || "HTTP " + r.status); e.status = r.status; e.data = j; throw e; }
        return j;
      });
    });
  }
  var notice = el("div", { id: "live-notice", cls: "live-notice", role: "alert", hidden: true });
  document.body.appendChild(notice);
  function say(text, isError) {
    notice.hidden = false;
    notice.className = "live-notice" + (isError ? " error" : "");
    notice.textContent = text;
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { notice.hidden = true; }, isError ? 20000 : 6000);
  }
  function button(label, onClick, attrs) {
    var b = el("button", Object.assign({ type: "button", text: label, cls: "live-btn" }, attrs || {}));
    b.addEventListener("click", function (e) { e.preventDefault(); onClick(b); });
    return b;
  }
  function launch(body) {
    return api("POST", "/api/launch", body).then(function (r) {
      say("Started: " + r.label);
      location.hash = "#/run/" + r.run;
      return r;
    }).catch(function (err) { say(err.message, true); });
  }
  function nameOf(i) { return D.nodes.n[i]; }

  // ------------------------------------------------------------------ live statuses
  // Polls the state's version (a few bytes); the asset list (~2 MB at 10,000 assets) is fetched
  // only when it moved and a view showing statuses is open — not on a run page, whose events
  // stream on their own: there it waits until the page is left.
  var version = null, seen = null;
  function currentView() { return (location.hash.replace(/^#\/?/, "").split("/")[0]) || "graph"; }
  function pollVersion() {
    if (document.hidden) return;
    api("GET", "/api/version").then(function (res) {
      if (res.load_errors) O.memberErrors(res.load_errors);  // a workspace: members that failed
      if (res.graph !== undefined && D.graph_version !== undefined && res.graph !== D.graph_version && currentView() !== "run") {
        location.reload();  // a member reloaded with other assets or edges: draw the new graph
        return;
      }
      version = res.version;
      if (version === seen || currentView() === "run") return;
      return api("GET", "/api/assets").then(function (res) {
        var first = seen === null;
        seen = res.version;
        O.refresh(seen, res.assets);
        if (first) return;
        var view = currentView();
        if (view === "asset" || view === "catalog" || view === "overview") O.route();
      });
    }).catch(function () { /* the server stopped: keep the page as it is */ });
  }
  setInterval(pollVersion, 2500);
  window.addEventListener("hashchange", function () { if (version !== seen) pollVersion(); });

  // ------------------------------------------------------------------ launch from the graph and pages
  O.hooks.panel = function (panel, item) {
    if (!BUILDABLE[item.kind]) return;
    panel.appendChild(el("div", { cls: "actions live-actions" },
      button("Materialize", function () { launch({ select: [item.key] }); }, { id: "launch-asset" }),
      button("With upstream", function () { launch({ select: ["+" + item.key] }); }, { id: "launch-upstream" }),
      button("With downstream", function () { launch({ select: [item.key + "+"] }); }, { id: "launch-downstream" })));
  };
  O.hooks.catalog = function (picked) {
    return button("Materialize selected", function () {
      var names = picked();
      if (!names.length) { say("Select assets with the boxes first.", true); return; }
      launch({ select: names });
    }, { id: "launch-selected" });
  };
  O.hooks.asset = function (head, a) {
    var box = el("div", { cls: "launch-box" });
    if (BUILDABLE[a.kind]) {
      var fields = {};
      if (a.partitions) {
        fields.partition = el("input", { id: "launch-partition", placeholder: "partition key", size: 14 });
        fields.start = el("input", { id: "launch-start", placeholder: "from", size: 12 });
        fields.end = el("input", { id: "launch-end", placeholder: "to", size: 12 });
      }
      var go = function (select) {
        var body = { select: select };
        Object.keys(fields).forEach(function (k) { if (fields[k].value.trim()) body[k] = fields[k].value.trim(); });
        launch(body);
      };
      box.appendChild(button("Materialize", function () { go([a.name]); }, { id: "launch-asset" }));
      box.appendChild(button("With upstream", function () { go(["+" + a.name]); }));
      box.appendChild(button("With downstream", function () { go([a.name + "+"]); }));
      if (a.partitions) {
        box.appendChild(el("span", { cls: "muted" }, " partition ", fields.partition, " or range ", fields.start, " – ", fields.end));
        // a backfill: every partition of the range, resumable, like `orch backfill`
        box.appendChild(button("Backfill range", function () {
          var start = fields.start.value.trim(), end = fields.end.value.trim();
          if (!start || !end) { say("A backfill needs a range: fill in from and to.", true); return; }
          launch({ kind: "backfill", select: [a.name], start: start, end: end });
        }, { id: "launch-backfill" }));
      }
    }
    box.appendChild(O.link("#/runs?asset=" + encodeURIComponent(a.name), "Runs of this asset →"));
    head.appendChild(box);
    if (a.runs && a.runs.length > 1) head.appendChild(historyPlots(a.runs));
  };

  // rows, duration and numeric output metadata over time, oldest first
  function historyPlots(runs) {
    var ok = runs.filter(function (r) { return r.status === "success"; }).slice().reverse();
    var series = [["rows", function (r) { return r.rows; }], ["duration (s)", function (r) { return r.duration; }]];
    var keys = {};
    ok.forEach(function (r) { Object.keys(r.metadata || {}).forEach(function (k) { if (typeof r.metadata[k] === "number") keys[k] = 1; }); });
    Object.keys(keys).sort().forEach(function (k) { series.push([k, function (r) { var v = (r.metadata || {})[k]; return typeof v === "number" ? v : null; }]); });
    var box = el("div", { cls: "plots", id: "history-plots" });
    series.forEach(function (s) {
      var pts = ok.map(function (r) { return [r.started, s[1](r)]; }).filter(function (p) { return p[1] !== null && p[1] !== undefined; });
      if (pts.length < 2) return;
      box.appendChild(sparkline(s[0], pts));
    });
    return box;
  }
  function sparkline(label, pts) {
    var W = 220, H = 48, vals = pts.map(function (p) { return p[1]; });
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals), span = hi - lo || 1;
    var d = pts.map(function (p, i) {
      var x = 4 + i * (W - 8) / (pts.length - 1), y = H - 4 - (p[1] - lo) * (H - 8) / span;
      return (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    }).join("");
    var g = svg("svg", { width: W, height: H, "class": "spark", role: "img", "aria-label": label });
    g.appendChild(svg("path", { d: d, "class": "spark-line" }));
    pts.forEach(function (p, i) {
      var c = svg("circle", { cx: 4 + i * (W - 8) / (pts.length - 1), cy: H - 4 - (p[1] - lo) * (H - 8) / span, r: 2.2, "class": "spark-dot" });
      c.appendChild(svg("title", { text: O.fmtTime(p[0]) + ": " + O.fmtNum(p[1]) }));
      g.appendChild(c);
    });
    return el("figure", { cls: "plot", "data-series": label }, el("figcaption", null, el("strong", { text: label }), " ", el("span", { cls: "muted", text: "last " + O.fmtNum(vals[vals.length - 1]) + " · min " + O.fmtNum(lo) + " · max " + O.fmtNum(hi) })), g);
  }

  // ------------------------------------------------------------------ the run list
  function queryOf() {
    var q = location.hash.split("?")[1] || "", out = {};
    q.split("&").forEach(function (kv) { if (!kv) return; var p = kv.split("="); try { out[p[0]] = decodeURIComponent(p[1] || ""); } catch (e) { out[p[0]] = p[1]; } });
    return out;
  }
  function runBadge(status) {
    var cls = { success: "st-fresh", running: "st-stale", failed: "st-failed", interrupted: "st-failed", refused: "st-failed", queued: "st-never" }[status] || "st-never";
    return O.badge(status, cls);
  }
  O.hooks.views.runs = function () {
    var v = document.getElementById("view-runs"), q = queryOf();
    clear(v);
    v.appendChild(el("h1", { text: "Runs" }));
    var status = el("select", { id: "runs-status" }, ["", "running", "success", "failed", "interrupted"].map(function (s) { return el("option", { value: s, text: s || "any status", selected: q.status === s }); }));
    var asset = el("input", { id: "runs-asset", type: "search", placeholder: "asset", value: q.asset || "", list: "runs-assets" });
    var job = el("select", { id: "runs-job" }, el("option", { value: "", text: "any job" }));
    var since = el("input", { id: "runs-since", type: "datetime-local", value: q.since || "" });
    var bar = el("div", { cls: "toolbar" }, el("label", null, "Status ", status), el("label", null, "Asset ", asset), el("label", null, "Job ", job), el("label", null, "Since ", since));
    v.appendChild(bar);
    var box = el("div", { id: "runs-table" }, el("p", { cls: "muted", text: "Loading…" }));
    v.appendChild(box);
    api("GET", "/api/automation").then(function (A) {
      (A.jobs || []).forEach(function (j) { job.appendChild(el("option", { value: j.name, text: j.name, selected: q.job === j.name })); });
    }).catch(function () {});
    function load() {
      var params = [];
      if (status.value) params.push("status=" + encodeURIComponent(status.value));
      if (asset.value.trim()) params.push("asset=" + encodeURIComponent(asset.value.trim()));
      if (job.value || q.job) params.push("job=" + encodeURIComponent(job.value || q.job));
      if (since.value) params.push("since=" + encodeURIComponent(since.value));
      api("GET", "/api/runs" + (params.length ? "?" + params.join("&") : "")).then(function (res) {
        clear(box);
        if (!res.runs.length) { box.appendChild(el("p", { cls: "empty-note", text: "No runs match." })); return; }
        box.appendChild(O.table(["Run", "What", "Status", "Started", "Duration", "Steps"], res.runs.map(function (r) {
          var counts = Object.keys(r.counts || {}).map(function (k) { return k + " " + r.counts[k]; }).join(", ");
          var what = r.job ? "job " + r.job : r.command + (r.selection ? " -s " + r.selection : "");
          if (r.retry_of) what += " (re-execution of " + r.retry_of.slice(0, 8) + ")";
          return [O.link("#/run/" + r.run, r.run.slice(0, 8), "run-link"), el("code", { text: what }), runBadge(r.status), O.fmtTime(r.started), O.fmtDuration(r.duration), r.error || counts || "–"];
        })));
      }).catch(function (err) { clear(box); box.appendChild(el("div", { cls: "error-box", text: err.message })); });
    }
    [status, job, since].forEach(function (x) { x.addEventListener("change", load); });
    asset.addEventListener("change", load);
    load();
  };

  // ------------------------------------------------------------------ one run, live
  var current = null;
  function RunPage(v, runId) {
    this.v = v; this.id = runId; this.steps = new Map(); this.order = []; this.checks = [];
    this.status = "queued"; this.pending = false; this.selected = null; this.source = null; this.record = null;
    this.t0 = null; this.t1 = null; this.consoleLines = 0; this.error = null;
    this.byAsset = new Map(); this.dirty = new Set(); this.ganttRows = [];
    clear(v);
    this.crumbs = el("div", { cls: "crumbs" }, O.link("#/runs", "Runs"), " / ", el("span", { text: runId.slice(0, 8) }));
    this.title = el("h1", { text: "Run " + runId.slice(0, 8) });
    this.statusEl = el("span", { id: "run-status" });
    this.what = el("div", { cls: "muted", id: "run-what" });
    this.actions = el("span", { cls: "run-actions" });
    this.errorBox = el("div", { cls: "error-box", id: "run-error", hidden: true });
    v.appendChild(this.crumbs);
    v.appendChild(el("div", { cls: "title-row" }, this.title, this.statusEl, el("span", { cls: "spacer" }), this.actions));
    v.appendChild(this.what);
    v.appendChild(this.errorBox);
    v.appendChild(el("h2", { text: "Timeline" }));
    this.gantt = svg("svg", { id: "run-gantt", "class": "gantt" });
    v.appendChild(el("div", { cls: "card-box gantt-box" }, this.gantt));
    var cols = el("div", { cls: "two-col" });
    var left = el("div"), right = el("div");
    left.appendChild(el("h2", { text: "Steps" }));
    this.stepsBody = el("tbody");
    this.stepsTable = el("table", { id: "run-steps", cls: "steps-table", "data-step-count": 0 },
      el("thead", null, el("tr", null, ["Step", "Status", "Duration", "Rows", ""].map(function (h) { return el("th", { text: h }); }))), this.stepsBody);
    this.stepsBox = el("div", { cls: "table-box steps-box" }, this.stepsTable);
    left.appendChild(this.stepsBox);
    var self = this;
    // only the rows in view exist (see renderSteps): a scroll re-renders the window, once a frame
    this.stepsBox.addEventListener("scroll", function () {
      if (self.scrollPending) return;
      self.scrollPending = true;
      requestAnimationFrame(function () { self.scrollPending = false; self.onScroll(); });
    }, { passive: true });
    right.appendChild(el("h2", { text: "Checks" }));
    this.checksBox = el("div", { id: "run-checks" }, el("p", { cls: "empty-note", text: "No check results yet." }));
    right.appendChild(this.checksBox);
    right.appendChild(el("h2", { text: "Step" }));
    this.detail = el("div", { id: "step-detail", cls: "card-box" }, el("p", { cls: "muted", text: "Pick a step to see its log and compiled SQL." }));
    right.appendChild(this.detail);
    cols.appendChild(left); cols.appendChild(right);
    v.appendChild(cols);
    v.appendChild(el("h2", { text: "Console" }));
    this.console = el("pre", { id: "run-console", cls: "console" });
    v.appendChild(this.console);
  }
  RunPage.prototype.step = function (e) {
    var s = this.steps.get(e.step_id);
    if (!s) {
      s = { id: e.step_id, asset: e.asset, partition: e.partition, status: "queued", start: null, end: null, rows: null, error: null, logs: [], row: null, index: this.order.length };
      this.steps.set(e.step_id, s); this.order.push(s);
      if (e.asset) { if (!this.byAsset.has(e.asset)) this.byAsset.set(e.asset, []); this.byAsset.get(e.asset).push(s); }
    }
    this.dirty.add(s);
    return s;
  };
  // Console lines are buffered and appended once per render, as one block (its own layout: a
  // text node added to one big <pre> relaid out every line); past CONSOLE_KEEP lines the oldest
  // blocks are dropped.
  var CONSOLE_KEEP = 2000;
  RunPage.prototype.log = function (text) {
    this.consoleLines++;
    (this.pendingLog = this.pendingLog || []).push(text);
  };
  RunPage.prototype.flushLog = function () {
    if (!this.pendingLog || !this.pendingLog.length) return;
    var lines = this.pendingLog.slice(-CONSOLE_KEEP);
    this.pendingLog = [];
    var block = el("div", { cls: "console-block", text: lines.join("\n") });
    block.lines = lines.length;
    this.console.appendChild(block);
    this.consoleShown = (this.consoleShown || 0) + lines.length;
    while (this.consoleShown > CONSOLE_KEEP && this.console.childNodes.length > 1) {
      this.consoleShown -= this.console.firstChild.lines || 0;
      this.console.removeChild(this.console.firstChild);
    }
  };
  function ms(iso) { var t = Date.parse(iso); return isNaN(t) ? null : t; }
  RunPage.prototype.apply = function (e) {
    var s, at = ms(e.at);
    switch (e.event) {
      case "RunStarted": this.status = "running"; this.t0 = at; this.log("run started: " + e.command + (e.selection ? " -s " + e.selection : "") + " (" + e.step_count + " steps)"); break;
      case "RunFinished": this.status = e.status; this.t1 = at; this.log("run " + e.status + " in " + O.fmtDuration(e.duration_s)); break;
      case "StepQueued": this.step(e); break;
      case "StepStarted": s = this.step(e); s.status = "running"; s.start = at; this.log(e.step_id + " started"); break;
      case "StepMaterialized": s = this.step(e); s.status = "success"; s.start = ms(e.started_at) || s.start; s.end = at; s.rows = e.rows; s.duration = e.duration_s; this.log(e.step_id + " materialized" + (e.rows !== null && e.rows !== undefined ? " (" + O.fmtNum(e.rows) + " rows)" : "") + " in " + O.fmtDuration(e.duration_s)); break;
      case "StepFailed": s = this.step(e); s.status = "failed"; s.start = s.start || (at && e.duration_s ? at - e.duration_s * 1000 : at); s.end = at; s.error = e.error; s.duration = e.duration_s; this.log(e.step_id + " FAILED: " + e.error); break;
      case "StepSkipped": s = this.step(e); s.status = "skipped"; s.error = e.reason + (e.cause ? " (" + e.cause + ")" : ""); this.log(e.step_id + " skipped: " + s.error); break;
      case "CheckEvaluated": this.checks.push(e); this.log("check " + e.check + ": " + e.status + (e.failing_rows ? " (" + e.failing_rows + " failing rows)" : "")); break;
      case "LogEmitted":
        this.log("[" + e.level + "] " + (e.asset ? e.asset + ": " : "") + e.message);
        if (e.asset) (this.byAsset.get(e.asset) || []).forEach(function (x) { x.logs.push("[" + e.level + "] " + e.message); });
        break;
      case "Console": this.log(e.message); break;
      case "LaunchFailed": this.status = "refused"; this.error = e.error; this.log("launch refused: " + e.error); break;
      case "WorkerExited": if (this.status === "running" || this.status === "queued") this.status = e.exit_code === 130 ? "interrupted" : e.exit_code === 0 ? "success" : "failed"; this.finished = true; break;
      default: break;
    }
    if (at && (this.t0 === null || at < this.t0) && e.event !== "RunFinished") this.t0 = this.t0 === null ? at : Math.min(this.t0, at);
  };
  // At most one render every RENDER_EVERY_MS while events stream: a 1,000-step run sends
  // thousands of events, and each render touches only what the events since the last one
  // changed (this.dirty): the rows in view, the bars of those steps, the new console lines.
  var RENDER_EVERY_MS = 200;
  RunPage.prototype.schedule = function () {
    if (this.pending) return;
    this.pending = true;
    var self = this, wait = Math.max(0, (this.lastRender || 0) + RENDER_EVERY_MS - Date.now());
    setTimeout(function () {
      requestAnimationFrame(function () { self.pending = false; self.lastRender = Date.now(); self.render(); });
    }, wait);
  };
  RunPage.prototype.render = function () {
    var self = this;
    if (this.statusShown !== this.status) {
      this.statusShown = this.status;
      clear(this.statusEl); this.statusEl.appendChild(runBadge(this.status));
    }
    if (this.error) { this.errorBox.hidden = false; this.errorBox.textContent = this.error; }
    var failed = this.order.some(function (s) { return s.status === "failed" || s.status === "skipped"; });
    var actionsKey = [this.live, this.finished, this.status, failed].join("|");
    if (actionsKey !== this.actionsKey) {  // rebuilt only when they change (not per render)
      this.actionsKey = actionsKey;
      clear(this.actions);
      if (this.live && !this.finished && (this.status === "running" || this.status === "queued")) this.actions.appendChild(button("Cancel run", function (b) {
        b.disabled = true;
        api("POST", "/api/runs/" + self.id + "/cancel").then(function () { say("Cancelling: running statements are interrupted."); }).catch(function (err) { say(err.message, true); b.disabled = false; });
      }, { id: "run-cancel" }));
      if ((this.finished || !this.live) && failed && this.status !== "running") this.actions.appendChild(button("Re-execute from failure", function () {
        api("POST", "/api/runs/" + self.id + "/retry").then(function (r) { location.hash = "#/run/" + r.run; }).catch(function (err) { say(err.message, true); });
      }, { id: "run-retry" }));
    }
    this.flushLog();
    this.renderSteps(this.dirty);
    if (this.checks.length !== this.checksShown) {
      this.checksShown = this.checks.length;
      clear(this.checksBox);
      this.checksBox.appendChild(O.table(["Check", "Asset", "Status", "Failing rows"], this.checks.map(function (c) {
        return [el("code", { text: c.check + (c.partition ? " [" + c.partition + "]" : "") }), c.asset ? O.assetLink(c.asset) : "–", O.checkBadge(c.status === "error" ? "fail" : c.status), O.fmtNum(c.failing_rows)];
      })));
    }
    this.renderGantt(this.dirty);
    this.dirty = new Set();
    if (this.selected && this.selected.key + "|" + this.selected.logs.length !== this.detailKey) this.renderDetail(this.selected);
    document.body.setAttribute("data-run-status", this.status);  // last: the page shows the status
  };
  // The step list is virtualised: only the rows in view (plus OVERSCAN either side) are in the
  // table, between two spacer rows; a 1,000-row table relaid out on every render was the
  // longest task. Rows are built once per step state and kept, detached, while out of view.
  var ROW_H = 30, VIEW_H = 520, OVERSCAN = 12;
  RunPage.prototype.renderSteps = function (dirty) {
    var n = this.order.length, body = this.stepsBody, self = this;
    if (this.stepCount !== n) { this.stepCount = n; this.stepsTable.setAttribute("data-step-count", n); }
    var rowH = this.rowH || ROW_H, top = this.scrollTop || 0;
    var first = Math.max(0, Math.floor(top / rowH) - OVERSCAN);
    var last = Math.min(n, Math.ceil((top + VIEW_H) / rowH) + OVERSCAN);
    if (first !== this.first || last !== this.last || n !== this.windowOf) {
      this.first = first; this.last = last; this.windowOf = n;
      if (!this.padTop) {
        this.padTop = el("tr", { cls: "pad", "aria-hidden": "true" }, el("td", { colspan: 5 }));
        this.padBottom = el("tr", { cls: "pad", "aria-hidden": "true" }, el("td", { colspan: 5 }));
      }
      this.padTop.style.height = first * rowH + "px";
      this.padBottom.style.height = (n - last) * rowH + "px";
      var frag = document.createDocumentFragment();
      frag.appendChild(this.padTop);
      for (var i = first; i < last; i++) frag.appendChild(this.renderStep(this.order[i]));
      frag.appendChild(this.padBottom);
      clear(body);
      body.appendChild(frag);
    } else if (dirty) {
      dirty.forEach(function (s) {
        if (s.index < first || s.index >= last) return;  // rebuilt when it scrolls into view
        var old = s.row, tr = self.renderStep(s);
        if (old && old !== tr && old.parentNode === body) body.replaceChild(tr, old);
      });
    }
    if (!this.rowH && last > first) this.measureRow = this.order[first].row;
  };
  RunPage.prototype.onScroll = function () {
    // reads only (layout is clean at the start of a frame), then the window is re-rendered
    if (!this.rowH && this.measureRow && this.measureRow.offsetHeight) this.rowH = this.measureRow.offsetHeight;
    this.scrollTop = this.stepsBox.scrollTop;
    this.renderSteps(null);
  };
  // the step's row, built anew only when what it shows changed
  RunPage.prototype.renderStep = function (s) {
    var key = s.status + "|" + s.rows + "|" + s.duration + "|" + (this.finished !== false);
    if (s.row && s.key === key) return s.row;
    s.key = key;
    var self = this;
    s.row = el("tr", { "data-step": s.id, "data-status": s.status, cls: this.selected === s ? "highlight" : null },
      el("td", { title: s.id }, el("button", { type: "button", cls: "linkish", text: s.id, on: { click: function () { self.selected = s; self.renderDetail(s); } } })),
      el("td", null, runBadge(s.status === "success" ? "success" : s.status)),
      el("td", { cls: "num", text: s.duration !== undefined ? O.fmtDuration(s.duration) : "–" }),
      el("td", { cls: "num", text: O.fmtNum(s.rows) }),
      el("td", null, (s.status === "failed" || s.status === "skipped" || s.status === "success") && this.finished !== false
        ? button("Re-run step", function () { launch(s.partition ? { select: [s.asset], partition: s.partition } : { select: [s.asset] }); }, { "data-rerun": s.id }) : null));
    return s.row;
  };
  RunPage.prototype.renderDetail = function (s) {
    var d = this.detail;
    this.detailKey = s.key + "|" + s.logs.length;  // rebuilt when the step or its log moved
    clear(d);
    d.appendChild(el("h3", null, O.link(O.assetHref(s.asset), s.id), " ", runBadge(s.status)));
    if (s.error) d.appendChild(el("pre", { cls: "tick-error", text: s.error }));
    d.appendChild(el("h3", { text: "Log" }));
    d.appendChild(el("pre", { cls: "console step-log", text: s.logs.length ? s.logs.join("\n") : "(no log lines)" }));
    var sqlBox = el("div");
    d.appendChild(sqlBox);
    O.loadAsset(s.asset).then(function (a) {
      if (!a) return;
      var code = a.compiled && a.compiled.length ? a.compiled : a.raw;
      if (!code || !code.length) return;
      sqlBox.appendChild(el("h3", { text: a.compiled && a.compiled.length ? "Compiled SQL" : "Source" }));
      sqlBox.appendChild(O.codeBlock(code));
    }).catch(function () {});
  };
  // The timeline: one row per started step, in start order (a row never moves), the first
  // GANTT_ROWS of them. The bars sit in one group whose transform maps milliseconds to pixels,
  // so a longer run moves one attribute, not every bar; a render touches the bars of the steps
  // that changed and of the running ones (moving all 400 bars per render was a long task).
  var GANTT_ROWS = 400, LABEL = 180, GROW = 14;
  RunPage.prototype.renderGantt = function (dirty) {
    var g = this.gantt, self = this, now = Date.now();
    if (!this.ganttSteps) { this.ganttSteps = []; this.ganttMore = 0; this.running = new Set(); this.base = null; this.tMin = null; this.tMax = null; }
    var touched = [];
    dirty.forEach(function (s) {
      if (!s.start) return;
      if (s.end) self.running.delete(s); else self.running.add(s);
      if (self.base === null) self.base = s.start;
      self.tMin = self.tMin === null ? s.start : Math.min(self.tMin, s.start);
      if (s.end) self.tMax = Math.max(self.tMax || s.end, s.end);
      if (s.gantt === undefined) {
        if (self.ganttSteps.length < GANTT_ROWS) { s.gantt = self.ganttSteps.length; self.ganttSteps.push(s); } else { s.gantt = null; self.ganttMore++; }
      }
      if (s.gantt !== null) touched.push(s);
    });
    if (!this.ganttSteps.length) {
      if (!this.ganttEmpty) { clear(g); g.setAttribute("height", 24); g.appendChild(svg("text", { x: 8, y: 16, "class": "sub", text: "No step has started yet." })); this.ganttEmpty = true; }
      return;
    }
    if (this.ganttEmpty !== false) {
      clear(g); this.ganttEmpty = false;
      this.axis0 = svg("text", { x: LABEL, y: 11, "class": "sub", text: "0 s" }); g.appendChild(this.axis0);
      this.axis1 = svg("text", { y: 11, "class": "sub", "text-anchor": "end" }); g.appendChild(this.axis1);
      this.more = svg("text", { x: 0, "class": "sub" }); g.appendChild(this.more);
      this.labels = svg("g"); g.appendChild(this.labels);
      this.barGroup = svg("g", { "class": "bars" }); g.appendChild(this.barGroup);
    }
    if (!this.ganttWidth) this.ganttWidth = g.clientWidth || 900;  // measured once, not per render
    var W = Math.max(300, this.ganttWidth - 10), t1 = this.running.size ? now : (this.tMax || now);
    if (this.tMax) t1 = Math.max(t1, this.tMax);
    var span = Math.max(t1 - this.tMin, 1), k = (W - LABEL) / span;
    this.barGroup.setAttribute("transform", "translate(" + (LABEL + (this.base - this.tMin) * k).toFixed(2) + " 0) scale(" + k.toPrecision(6) + " 1)");
    this.axis1.setAttribute("x", W - 4); this.axis1.textContent = O.fmtDuration(span / 1000);
    var rows = this.ganttSteps.length;
    if (rows !== this.ganttRowsShown) { this.ganttRowsShown = rows; g.setAttribute("height", rows * GROW + 22); this.more.setAttribute("y", rows * GROW + 20); }
    var more = this.ganttMore ? "… and " + this.ganttMore + " more steps" : "";
    if (more !== this.more.textContent) this.more.textContent = more;
    this.running.forEach(function (s) { if (s.gantt !== null && !dirty.has(s)) touched.push(s); });
    touched.forEach(function (s) {
      var bar = s.bar, y = 16 + s.gantt * GROW;
      if (!bar) {
        bar = s.bar = { rect: svg("rect", { y: y, height: GROW - 3, "data-step": s.id }), title: svg("title") };
        self.labels.appendChild(svg("text", { x: 0, y: y + 10, "class": "gantt-label", text: s.id.length > 28 ? s.id.slice(0, 27) + "…" : s.id }));
        bar.rect.appendChild(bar.title); self.barGroup.appendChild(bar.rect);
      }
      bar.rect.setAttribute("x", s.start - self.base);
      bar.rect.setAttribute("width", Math.max(2 / k, (s.end || now) - s.start).toPrecision(6));
      var cls = "bar b-" + s.status;
      if (bar.cls !== cls) { bar.cls = cls; bar.rect.setAttribute("class", cls); }
      var title = s.id + ": " + s.status + (s.duration !== undefined ? " · " + O.fmtDuration(s.duration) : "");
      if (bar.titleText !== title) { bar.titleText = title; bar.title.textContent = title; }
    });
  };
  RunPage.prototype.open = function () {
    var self = this;
    api("GET", "/api/runs/" + encodeURIComponent(this.id)).then(function (res) {
      self.record = res.run;
      self.live = res.launched_here;
      if (res.label) self.what.textContent = res.label;
      else if (res.run) self.what.textContent = res.run.command + (res.run.selection ? " -s " + res.run.selection : "") + " · started " + O.fmtTime(res.run.started);
      if (res.launched_here) { self.stream(); return; }
      self.finished = true;
      res.events.forEach(function (e) { self.apply(e); });
      if (res.run) self.status = res.run.status;
      self.render();
      if (res.run && res.run.status === "running") self.poll = setTimeout(function () { if (current === self) { self.reset(); self.open(); } }, 2000);
    }).catch(function (err) { clear(self.v); self.v.appendChild(el("div", { cls: "error-box", text: err.message })); });
  };
  RunPage.prototype.reset = function () {
    this.steps = new Map(); this.order = []; this.checks = []; this.byAsset = new Map(); this.dirty = new Set();
    clear(this.stepsBody); this.first = this.last = this.windowOf = undefined; this.checksShown = -1;
    clear(this.console); this.consoleLines = 0; this.consoleShown = 0; this.pendingLog = [];
    this.ganttEmpty = undefined; this.ganttSteps = null; this.ganttRowsShown = undefined;
  };
  RunPage.prototype.stream = function () {
    var self = this;
    this.finished = false;
    var src = new EventSource("/api/runs/" + encodeURIComponent(this.id) + "/events");
    this.source = src;
    src.onmessage = function (m) {
      JSON.parse(m.data).forEach(function (e) { self.apply(e); });
      self.schedule();
    };
    src.addEventListener("end", function () {
      src.close(); self.finished = true; self.schedule();
      pollVersion();
    });
    src.onerror = function () { if (self.finished) src.close(); };
  };
  RunPage.prototype.close = function () { if (this.source) this.source.close(); clearTimeout(this.poll); };
  O.hooks.views.run = function (parts) {
    if (current) current.close();
    var v = document.getElementById("view-run");
    current = new RunPage(v, (parts[0] || "").split("?")[0]);
    current.render();
    current.open();
  };
  window.addEventListener("hashchange", function () { if (current && !/^#\/run\//.test(location.hash)) { current.close(); current = null; } });

  // ------------------------------------------------------------------ automation, live
  O.hooks.views.automation = function () {
    var v = document.getElementById("view-automation");
    clear(v);
    v.appendChild(el("h1", { text: "Automation" }));
    v.appendChild(el("div", { cls: "muted", text: "Jobs, schedules and sensors. Switching one off here is stored in the state store: `orch daemon` and `orch schedule tick` skip it." }));
    var box = el("div", null, el("p", { cls: "muted", text: "Loading…" }));
    v.appendChild(box);
    api("GET", "/api/automation").then(function (A) {
      clear(box);
      if (A.error) box.appendChild(el("div", { cls: "error-box", id: "automation-error" }, el("strong", { text: "Could not load schedules and sensors: " }), el("pre", { text: A.error })));
      box.appendChild(el("h2", { text: "Jobs (" + A.jobs.length + ")" }));
      box.appendChild(A.jobs.length ? O.table(["Job", "Selection", "Config (vars, JSON)", "Partition", ""], A.jobs.map(function (j) {
        var vars = el("input", { cls: "job-vars", "data-job": j.name, placeholder: JSON.stringify(j.vars || {}), size: 24 });
        var part = el("input", { cls: "job-partition", "data-job": j.name, placeholder: j.partitions || "", size: 12 });
        return [el("span", null, el("code", { text: j.name }), j.description ? el("div", { cls: "muted", text: j.description }) : null), el("code", { text: j.select + (j.exclude ? " --exclude " + j.exclude : "") }), vars, part,
          button("Run job", function () {
            var body = { kind: "job", job: j.name };
            if (vars.value.trim()) body.vars = vars.value.trim();
            if (part.value.trim()) body.partition = part.value.trim();
            launch(body);
          }, { "data-run-job": j.name }),
          O.link("#/runs?job=" + encodeURIComponent(j.name), "runs →")];
      })) : el("p", { cls: "empty-note", text: "No jobs." }));
      function toggle(d) {
        var b = button(d.enabled ? "On" : "Off", function () {
          b.disabled = true;
          api("POST", "/api/automation/" + encodeURIComponent(d.name) + "/toggle", { enabled: !d.enabled }).then(function (r) {
            say(d.name + " switched " + (r.enabled ? "on" : "off"));
            O.hooks.views.automation();
          }).catch(function (err) { say(err.message, true); b.disabled = false; });
        }, { "data-toggle": d.name, "aria-pressed": String(!!d.enabled), cls: "live-btn toggle " + (d.enabled ? "on" : "off"), title: d.enabled ? "Switch off" : "Switch on" });
        return b;
      }
      function lastTick(ticks) {
        var t = (ticks || [])[0];
        return t ? el("span", null, runBadge(t.status === "skipped" ? "queued" : t.status), " ", O.fmtTime(t.time), t.skip_reason ? el("div", { cls: "muted", text: t.skip_reason }) : null) : el("span", { cls: "muted", text: "no ticks yet" });
      }
      box.appendChild(el("h2", { text: "Schedules (" + A.schedules.length + ")" }));
      box.appendChild(A.schedules.length ? O.table(["", "Schedule", "Job", "Cron", "Next tick", "Last ticks"], A.schedules.map(function (s) {
        return [toggle(s), el("span", null, el("code", { text: s.name }), s.description ? el("div", { cls: "muted", text: s.description }) : null), el("code", { text: s.job }),
          el("code", { text: s.cron + " (" + (s.timezone || "UTC") + ")" }), s.enabled ? (s.next_tick ? O.fmtTime(s.next_tick) + (s.due ? " (due)" : "") : "–") : "off",
          el("span", null, (s.ticks || []).slice(0, 3).map(function (t, i) { return [i ? el("br") : null, lastTick([t])]; }))];
      })) : el("p", { cls: "empty-note", text: "No schedules." }));
      box.appendChild(el("h2", { text: "Sensors (" + A.sensors.length + ")" }));
      box.appendChild(A.sensors.length ? O.table(["", "Sensor", "Kind", "Job", "Every", "Cursor", "Last tick"], A.sensors.map(function (s) {
        return [toggle(s), el("span", null, el("code", { text: s.name }), s.description ? el("div", { cls: "muted", text: s.description }) : null), s.kind, el("code", { text: s.job }),
          O.fmtDuration(s.minimum_interval_seconds), s.cursor === null || s.cursor === undefined ? "–" : el("code", { text: s.cursor }), lastTick(s.ticks)];
      })) : el("p", { cls: "empty-note", text: "No sensors." }));
    }).catch(function (err) { clear(box); box.appendChild(el("div", { cls: "error-box", text: err.message })); });
  };

  pollVersion();
  O.start();
})();
