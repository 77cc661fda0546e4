/* orch docs: the site's one script. Hand-written, no dependencies, works from file://.
 *
 * Safety rule: every string that comes from the project (names, descriptions, SQL, meta, failing
 * rows) reaches the page through textContent / createTextNode / setAttribute on a whitelisted
 * attribute. Nothing here assigns markup strings (no innerHTML, no insertAdjacentHTML).
 */
(function () {
  "use strict";
  var D = window.ORCH_DOCS;
  var N = D.nodes;
  var COUNT = N.n.length;
  var CS = D.chunk_size;
  var SVGNS = "http://www.w3.org/2000/svg";
  var NODE_W = D.node_size[0], NODE_H = D.node_size[1];
  var LAYER_GAP = 280, ROW_GAP = 52;
  var READABLE_UP_TO = 12, READABLE_K = 0.8;  // zoom-to-fit never shrinks a small graph below this
  // `orch ui` serves this same script with live data; its live.js adds views through `hooks`
  var LIVE = document.querySelector('meta[name="orch-live"]') !== null;
  var hooks = { panel: null, asset: null, views: {} }, dataVersion = "";

  var nameIndex = new Map();
  var lower = new Array(COUNT);
  var children = new Array(COUNT);
  for (var i = 0; i < COUNT; i++) { nameIndex.set(N.n[i], i); lower[i] = N.n[i].toLowerCase(); children[i] = []; }
  for (i = 0; i < COUNT; i++) { var ps = N.p[i]; for (var j = 0; j < ps.length; j++) children[ps[j]].push(i); }
  // dbt exposures (dashboards, notebooks...): graph nodes after the assets (graph indices COUNT..),
  // downstream of the assets they depend on; each has a page of its own (#/exposure/<name>)
  var E = D.exposures || { n: [], e: [], x: [], y: [], l: [], p: [], r: [], t: [], d: [] };
  var ECOUNT = E.n.length, GCOUNT = COUNT + ECOUNT, EXPOSURE_KEY = "exposure:";
  var exposureIndex = new Map();
  for (i = 0; i < ECOUNT; i++) {
    exposureIndex.set(E.n[i], COUNT + i); lower.push(E.n[i].toLowerCase()); children.push([]);
    for (j = 0; j < E.p[i].length; j++) children[E.p[i][j]].push(COUNT + i);
  }
  function parentsOf(g) { return g < COUNT ? N.p[g] : E.p[g - COUNT]; }
  function slotsOf(g) { return g < COUNT ? N.r[g] : E.r[g - COUNT]; }
  function nameOf(g) { return g < COUNT ? N.n[g] : E.n[g - COUNT]; }
  function keyOf(g) { return g < COUNT ? N.n[g] : EXPOSURE_KEY + E.n[g - COUNT]; }
  // a graph key (#/graph/<key>): an asset's name, or exposure:<name>
  function graphIndexOf(key) {
    if (nameIndex.has(key)) return nameIndex.get(key);
    var g = key.indexOf(EXPOSURE_KEY) === 0 ? exposureIndex.get(key.slice(EXPOSURE_KEY.length)) : undefined;
    return g === undefined ? null : g;
  }

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "cls") node.className = v;
      else if (k === "on") for (var ev in v) node.addEventListener(ev, v[ev]);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (var a = 2; a < arguments.length; a++) append(node, arguments[a]);
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") node.textContent = String(attrs[k]);
      else node.setAttribute(k, String(attrs[k]));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function assetHref(name) { return "#/asset/" + encodeURIComponent(name); }
  function columnHref(asset, column) { return "#/column/" + encodeURIComponent(asset) + "/" + encodeURIComponent(column); }
  function graphHref(name) { return "#/graph/" + encodeURIComponent(name); }
  function link(href, label, cls) { return el("a", { href: href, cls: cls, text: label }); }
  function assetLink(name) { return nameIndex.has(name) ? link(assetHref(name), name) : el("span", { text: name }); }
  function exposureHref(name) { return "#/exposure/" + encodeURIComponent(name); }
  function exposureLink(name) { return exposureIndex.has(name) ? link(exposureHref(name), name, "exposure-link") : el("span", { text: name }); }
  function hrefOf(g) { return g < COUNT ? assetHref(N.n[g]) : exposureHref(E.n[g - COUNT]); }
  // an exposure's url: a link only when it is http(s); anything else is shown as text
  function urlNode(url) {
    if (!url) return null;
    return /^https?:\/\//i.test(url) ? el("a", { href: url, rel: "noopener noreferrer", cls: "exposure-url", text: url }) : el("code", { cls: "exposure-url", text: url });
  }
  function fmtDuration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    var m = Math.floor(s / 60); return m + " min " + Math.round(s - m * 60) + " s";
  }
  function fmtTime(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }
  function fmtNum(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }
  function badge(label, cls, title) { return el("span", { cls: "badge " + (cls || ""), text: label, title: title }); }
  function statusBadge(status) {
    var labels = { fresh: "up to date", stale: "stale", failed: "failed", never: "never materialized", none: "not materialized" };
    return badge(labels[status] || status, "st-" + status);
  }
  function checkBadge(status) { return status ? badge(status, "ck-" + status) : badge("not run", "ck-skipped"); }
  function plainValue(v) { return typeof v === "string" ? v : JSON.stringify(v); }

  // Markdown arrives as a tree built in Python: [tag, attrs, ...children]; leaves are text.
  var MD_TAGS = { p: 1, h1: 1, h2: 1, h3: 1, h4: 1, h5: 1, h6: 1, ul: 1, ol: 1, li: 1, em: 1, strong: 1, code: 1, pre: 1, blockquote: 1, a: 1, br: 1, hr: 1 };
  function richText(tree) {
    var box = el("div", { cls: "description" });
    (tree || []).forEach(function (n) { box.appendChild(mdNode(n)); });
    return box;
  }
  function mdNode(n) {
    if (typeof n === "string") return document.createTextNode(n);
    var tag = MD_TAGS[n[0]] ? n[0] : "span";
    var node = document.createElement(tag);
    var attrs = n[1] || {};
    if (tag === "a" && typeof attrs.href === "string" && /^(https?:|mailto:|#)/i.test(attrs.href)) {
      node.setAttribute("href", attrs.href); node.setAttribute("rel", "noopener noreferrer");
    }
    if (tag === "ol" && attrs.start) node.setAttribute("start", String(parseInt(attrs.start, 10) || 1));
    for (var c = 2; c < n.length; c++) node.appendChild(mdNode(n[c]));
    return node;
  }
  function codeBlock(tokens) {
    var pre = el("pre", { cls: "code" });
    var code = el("code");
    for (var t = 0; t < tokens.length; t += 2) {
      var cls = D.token_classes[tokens[t]];
      if (cls) code.appendChild(el("span", { cls: cls, text: tokens[t + 1] }));
      else code.appendChild(document.createTextNode(tokens[t + 1]));
    }
    pre.appendChild(code);
    return pre;
  }

  // ------------------------------------------------------------------ asset details (chunks)
  var chunks = {}, waiting = {}, requested = {};
  window.orchDocsChunk = function (index, details) {
    chunks[index] = details;
    (waiting[index] || []).forEach(function (f) { f(); });
    delete waiting[index];
  };
  function loadChunk(index) {
    return new Promise(function (resolve, reject) {
      if (chunks[index]) { resolve(chunks[index]); return; }
      (waiting[index] = waiting[index] || []).push(function () { resolve(chunks[index]); });
      if (requested[index]) return;
      requested[index] = true;
      var s = document.createElement("script");
      s.src = "data/a" + index + ".js" + (dataVersion ? "?v=" + encodeURIComponent(dataVersion) : "");
      s.onerror = function () { requested[index] = false; reject(new Error("cannot load data/a" + index + ".js")); };
      document.head.appendChild(s);
    });
  }
  function loadAsset(name) {
    var idx = nameIndex.get(name);
    if (idx === undefined) return Promise.resolve(null);
    return loadChunk(Math.floor(idx / CS)).then(function (c) { return c[idx % CS]; });
  }

  // ------------------------------------------------------------------ layout of subgraphs
  // A subgraph is the library layout (orch.docs.layout: igraph's Sugiyama) restricted to it: its
  // assets and the slots of its long edges keep their layers and their order within each layer,
  // closed up (empty layers and rows dropped). An edge spanning layers gets a slot in each layer
  // it crosses, so every drawn segment runs through its own slot or through a gap between
  // columns, never through a box. Edges are [from, to, slotOrders?] (slot orders: the global
  // layout's y of each slot; without them, interpolated between the ends).
  function localLayout(items, edges) {
    var byKey = new Map(), cols = new Map(), seq = 0;
    function put(layer, order, target) {
      if (!cols.has(layer)) cols.set(layer, []);
      cols.get(layer).push({ order: order, seq: seq++, target: target });
    }
    items.forEach(function (n) { byKey.set(n.key, n); n.ins = []; n.outs = []; n.routes = null; put(n.layer, n.order0, n); });
    edges.forEach(function (e) {
      var a = byKey.get(e[0]), b = byKey.get(e[1]);
      if (!a || !b) return;
      a.outs.push(b); b.ins.push(a);
      var span = b.layer - a.layer, given = e[2] && e[2].length === span - 1 ? e[2] : null;
      if (span < 2) return;
      var route = [];
      for (var j = 1; j < span; j++) {
        var s = { x: 0, y: 0 };
        route.push(s);
        put(a.layer + j, given ? given[j - 1] : a.order0 + (b.order0 - a.order0) * j / span, s);
      }
      (b.routes = b.routes || {})[a.key] = route;
    });
    var layers = Array.from(cols.keys()).sort(function (x, y) { return x - y; });
    var tallest = Math.max.apply(null, layers.map(function (l) { return cols.get(l).length; }).concat([1]));
    layers.forEach(function (l, c) {
      var col = cols.get(l), offset = (tallest - col.length) / 2;
      col.sort(function (x, y) { return x.order - y.order || x.seq - y.seq; });
      col.forEach(function (s, i) { s.target.x = c * LAYER_GAP; s.target.y = (i + offset) * ROW_GAP; });
    });
    return items;
  }
  // The points of an edge: the parent's right side, in and out of each slot, the child's left side.
  function edgePoints(a, b) {
    var mid = NODE_H / 2, pts = [[a.x + NODE_W, a.y + mid]], r = b.routes && b.routes[a.key];
    if (r) r.forEach(function (s) { pts.push([s.x, s.y + mid], [s.x + NODE_W, s.y + mid]); });
    pts.push([b.x, b.y + mid]);
    return pts;
  }
  // Between columns a curve with level ends (its control points stay inside the gap, and so does
  // the curve); through a slot a straight line. `straight`: lines only (the far-out view).
  function edgePath(a, b, straight) {
    var pts = edgePoints(a, b), d = "M" + pts[0][0] + " " + pts[0][1];
    for (var i = 1; i < pts.length; i++) {
      var p = pts[i - 1], q = pts[i];
      if (i % 2 === 1 && !straight) {
        var dx = (q[0] - p[0]) / 2;
        d += "C" + (p[0] + dx) + " " + p[1] + " " + (q[0] - dx) + " " + q[1] + " " + q[0] + " " + q[1];
      } else d += "L" + q[0] + " " + q[1];
    }
    return d;
  }

  function assetItem(i) {
    return {
      key: N.n[i], idx: i, label: N.n[i], layer: N.l[i], order0: N.y[i],
      sub: D.materializations[N.m[i]] + (N.g[i] >= 0 ? " · " + D.groups[N.g[i]] : ""),
      kind: D.kinds[N.k[i]], status: D.statuses[N.s[i]], check: D.check_statuses[N.c[i]],
      href: assetHref(N.n[i])
    };
  }
  function graphItem(g) {
    if (g < COUNT) return assetItem(g);
    var j = g - COUNT, type = D.exposure_types[E.e[j]], d = E.d[j];
    return {
      key: keyOf(g), idx: g, label: E.n[j], layer: E.l[j], order0: E.y[j],
      sub: type + (d.maturity ? " · " + d.maturity + " maturity" : ""),
      kind: "exposure", type: type, status: null, check: "", href: exposureHref(E.n[j])
    };
  }
  function neighbourhood(focus, up, down) {
    var seen = new Map(); seen.set(focus, 0);
    var frontier = [focus];
    for (var d = 0; d < up && frontier.length; d++) {
      var next = [];
      frontier.forEach(function (i) { parentsOf(i).forEach(function (p) { if (!seen.has(p)) { seen.set(p, -1); next.push(p); } }); });
      frontier = next;
    }
    frontier = [focus];
    for (d = 0; d < down && frontier.length; d++) {
      next = [];
      frontier.forEach(function (i) { children[i].forEach(function (c) { if (!seen.has(c)) { seen.set(c, 1); next.push(c); } }); });
      frontier = next;
    }
    var items = [], edges = [];
    seen.forEach(function (_, i) {
      items.push(graphItem(i));
      var slots = slotsOf(i);
      parentsOf(i).forEach(function (p, pi) { if (seen.has(p)) edges.push([N.n[p], keyOf(i), slots ? slots[pi] : null]); });
    });
    return { items: localLayout(items, edges), edges: edges };
  }
  var globalItems = null;
  function wholeGraph() {
    if (!globalItems) {
      globalItems = [];
      for (var i = 0; i < GCOUNT; i++) {
        var it = graphItem(i);
        it.x = i < COUNT ? N.x[i] : E.x[i - COUNT]; it.y = i < COUNT ? N.y[i] : E.y[i - COUNT];
        it.ins = []; it.outs = []; globalItems.push(it);
      }
      for (i = 0; i < GCOUNT; i++) parentsOf(i).forEach(function (p, pi) {
        var it = globalItems[i], r = slotsOf(i), slots = r ? r[pi] : null;
        it.ins.push(globalItems[p]); globalItems[p].outs.push(it);
        if (slots && slots.length) (it.routes = it.routes || {})[N.n[p]] = slots.map(function (y, j) { return { x: (N.l[p] + 1 + j) * LAYER_GAP, y: y }; });
      });
    }
    return globalItems;
  }

  // ------------------------------------------------------------------ the graph renderer
  // Draws only what is in view; far out, nodes collapse into one path per kind (level of detail).
  function GraphView(svgEl, opts) {
    this.svg = svgEl; this.opts = opts || {};
    this.items = []; this.byKey = new Map(); this.k = 1; this.tx = 0; this.ty = 0;
    this.selected = null; this.related = null; this.dimmed = null; this.focusKey = null;
    this.root = svg("g"); this.svg.appendChild(this.root);
    this.pending = false;
    var self = this, drag = null;
    svgEl.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = svgEl.getBoundingClientRect();
      self.zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    svgEl.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, tx: self.tx, ty: self.ty, moved: false, target: e.target };
    });
    window.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true; svgEl.classList.add("dragging");
      self.tx = drag.tx + dx; self.ty = drag.ty + dy; self.schedule();
    });
    window.addEventListener("pointerup", function (e) {
      if (!drag) return;
      var d = drag; drag = null; svgEl.classList.remove("dragging");
      if (d.moved) return;
      var g = d.target.closest ? d.target.closest("[data-key]") : null;
      if (g && self.byKey.has(g.getAttribute("data-key"))) self.select(g.getAttribute("data-key"));
      else if (self.lod && d.target === self.svg) {
        var r = svgEl.getBoundingClientRect(); self.zoomAt(e.clientX - r.left, e.clientY - r.top, 2.5);
      } else if (d.target === self.svg || d.target === self.root) self.select(null);
    });
    svgEl.addEventListener("dblclick", function (e) {
      var g = e.target.closest ? e.target.closest("[data-key]") : null;
      if (g && self.opts.onOpen) self.opts.onOpen(self.byKey.get(g.getAttribute("data-key")));
    });
    window.addEventListener("resize", function () { self.schedule(); });
  }
  GraphView.prototype.setGraph = function (items, focusKey) {
    this.items = items; this.byKey = new Map(items.map(function (n) { return [n.key, n]; }));
    this.focusKey = focusKey || null; this.selected = null; this.related = null; this.lastKey = null;
    var self = this;
    this.fit();
    if (focusKey && this.byKey.has(focusKey) && items.length > 60) {
      var f = this.byKey.get(focusKey); this.k = Math.max(this.k, 0.8); this.center(f.x + NODE_W / 2, f.y + NODE_H / 2);
    }
    self.render();
  };
  GraphView.prototype.size = function () { return [this.svg.clientWidth || 800, this.svg.clientHeight || 500]; };
  GraphView.prototype.fit = function () {
    var sz = this.size(), minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    function grow(n) { minX = Math.min(minX, n.x); minY = Math.min(minY, n.y); maxX = Math.max(maxX, n.x + NODE_W); maxY = Math.max(maxY, n.y + NODE_H); }
    this.items.forEach(function (n) {
      grow(n);
      if (n.routes) for (var p in n.routes) n.routes[p].forEach(grow);
    });
    if (!this.items.length) { minX = minY = 0; maxX = maxY = 1; }
    var pad = 40;
    this.k = Math.min(1.15, (sz[0] - 2 * pad) / (maxX - minX || 1), (sz[1] - 2 * pad) / (maxY - minY || 1));
    // a short chain stays readable (labels >= 10px) even where it then needs panning
    this.k = Math.max(this.k, this.items.length <= READABLE_UP_TO ? READABLE_K : 0.01);
    this.tx = (sz[0] - (maxX - minX) * this.k) / 2 - minX * this.k;
    this.ty = (sz[1] - (maxY - minY) * this.k) / 2 - minY * this.k;
    this.schedule();
  };
  GraphView.prototype.center = function (x, y) {
    var sz = this.size(); this.tx = sz[0] / 2 - x * this.k; this.ty = sz[1] / 2 - y * this.k; this.schedule();
  };
  GraphView.prototype.zoomAt = function (px, py, factor) {
    var k = Math.min(3, Math.max(0.01, this.k * factor));
    this.tx = px - (px - this.tx) * (k / this.k); this.ty = py - (py - this.ty) * (k / this.k); this.k = k;
    this.schedule();
  };
  GraphView.prototype.schedule = function () {
    if (this.pending) return;
    this.pending = true;
    var self = this;
    requestAnimationFrame(function () { self.pending = false; self.render(); });
  };
  GraphView.prototype.select = function (key) {
    this.selected = key;
    this.related = null;
    if (key !== null) {
      var start = this.byKey.get(key), rel = new Set([key]);
      [["ins"], ["outs"]].forEach(function (dir) {
        var stack = [start];
        while (stack.length) {
          var n = stack.pop();
          (n[dir[0]] || []).forEach(function (m) { if (!rel.has(m.key)) { rel.add(m.key); stack.push(m); } });
        }
      });
      this.related = rel;
    }
    this.render();
    if (this.opts.onSelect) this.opts.onSelect(key === null ? null : this.byKey.get(key));
  };
  GraphView.prototype.setDim = function (pred) { this.dimmed = pred; this.lastKey = null; this.render(); };
  GraphView.prototype.render = function () {
    var sz = this.size(), k = this.k;
    this.root.setAttribute("transform", "translate(" + this.tx + "," + this.ty + ") scale(" + k + ")");
    var x0 = -this.tx / k - NODE_W, y0 = -this.ty / k - NODE_H, x1 = (sz[0] - this.tx) / k, y1 = (sz[1] - this.ty) / k;
    var visible = [];
    for (var i = 0; i < this.items.length; i++) {
      var n = this.items[i];
      if (n.x >= x0 && n.x <= x1 && n.y >= y0 && n.y <= y1) visible.push(n);
    }
    var key = visible.length + "|" + (k < 0.4) + "|" + this.selected + "|" + x0.toFixed(0) + "," + y0.toFixed(0) + "," + k.toFixed(3);
    if (key === this.lastKey) return;
    this.lastKey = key;
    clear(this.root);
    this.lod = visible.length > 400 && k < 0.4;
    if (this.opts.onInfo) this.opts.onInfo(visible.length, this.items.length);
    if (this.lod) { this.renderLod(visible); return; }
    var inView = new Set(visible.map(function (n) { return n.key; }));
    var edgeLayer = svg("g"), nodeLayer = svg("g"), hlLayer = svg("g");
    var related = this.related, dimmed = this.dimmed, drawn = 0;
    var self = this;
    function edge(a, b) {
      if (drawn > 8000) return;
      drawn++;
      var hl = related && related.has(a.key) && related.has(b.key);
      var p = svg("path", { d: edgePath(a, b), "class": "edge" + (hl ? " hl" : related ? " dim" : ""), "data-from": a.key, "data-to": b.key });
      (hl ? hlLayer : edgeLayer).appendChild(p);
    }
    visible.forEach(function (n) {
      (n.ins || []).forEach(function (p) { edge(p, n); });
      (n.outs || []).forEach(function (c) { if (!inView.has(c.key)) edge(n, c); });
    });
    visible.forEach(function (n) { nodeLayer.appendChild(self.drawNode(n, related, dimmed)); });
    this.root.appendChild(edgeLayer); this.root.appendChild(hlLayer); this.root.appendChild(nodeLayer);
  };
  GraphView.prototype.drawNode = function (n, related, dimmed) {
    var cls = "node";
    if (n.key === this.focusKey) cls += " focus";
    if (n.key === this.selected) cls += " selected";
    if (n.check === "fail") cls += " check-fail";
    if ((related && !related.has(n.key)) || (dimmed && !dimmed(n))) cls += " dim";
    if (n.kind === "exposure") cls += " exposure";
    var g = svg("g", { "class": cls, transform: "translate(" + n.x + "," + n.y + ")", "data-key": n.key });
    if (n.type) g.setAttribute("data-type", n.type);
    var title = svg("title"); title.textContent = n.label + (n.sub ? " (" + n.sub + ")" : ""); g.appendChild(title);
    var tx = 13;
    if (n.kind === "exposure") {  // a pill with a round mark: it uses the data, it is not an asset
      g.appendChild(svg("rect", { "class": "card", width: NODE_W, height: NODE_H, rx: NODE_H / 2 }));
      g.appendChild(svg("circle", { "class": "mark k-exposure", cx: 16, cy: NODE_H / 2, r: 6 }));
      tx = 28;
    } else {
      g.appendChild(svg("rect", { "class": "card", width: NODE_W, height: NODE_H, rx: 7 }));
      g.appendChild(svg("rect", { "class": "stripe k-" + n.kind, width: 5, height: NODE_H - 2, x: 1, y: 1, rx: 2 }));
    }
    var room = n.kind === "exposure" ? 24 : 26;
    var label = n.label.length > room ? n.label.slice(0, room - 1) + "…" : n.label;
    g.appendChild(svg("text", { x: tx, y: 15, text: label }));
    g.appendChild(svg("text", { x: tx, y: 29, "class": "sub", text: n.sub || "" }));
    if (n.status && n.status !== "none") g.appendChild(svg("circle", { cx: NODE_W - 11, cy: 11, r: 4.5, "class": "s-" + n.status }));
    if (n.check) g.appendChild(svg("rect", { x: NODE_W - 15.5, y: 21, width: 9, height: 9, rx: 2, "class": "c-" + n.check }));
    return g;
  };
  GraphView.prototype.renderLod = function (visible) {
    var paths = {}, edges = [], dimmed = this.dimmed, related = this.related;
    var inView = new Set(visible.map(function (n) { return n.key; }));
    visible.forEach(function (n) {
      var cls = (dimmed && !dimmed(n)) || (related && !related.has(n.key)) ? "dim" : n.kind;
      (paths[cls] = paths[cls] || []).push("M" + n.x + " " + n.y + "h" + NODE_W + "v" + NODE_H + "h-" + NODE_W + "z");
      if (edges.length < 40000) (n.ins || []).forEach(function (p) { if (inView.has(p.key)) edges.push(edgePath(p, n, true)); });
    });
    this.root.appendChild(svg("path", { d: edges.join(""), "class": "lod-edge", "vector-effect": "non-scaling-stroke" }));
    for (var cls in paths) {
      var p = svg("path", { d: paths[cls].join(""), "class": "lod-node " + (cls === "dim" ? "" : "k-" + cls) });
      if (cls === "dim") p.setAttribute("fill", "#d5dae1");
      this.root.appendChild(p);
    }
  };

  // ------------------------------------------------------------------ views
  var views = ["graph", "overview", "catalog", "automation", "asset", "exposure", "column", "runs", "run"];
  function show(view) {
    views.forEach(function (v) { var sec = document.getElementById("view-" + v); if (sec) sec.hidden = v !== view; });
    document.querySelectorAll(".tabs a").forEach(function (a) { a.classList.toggle("active", a.getAttribute("data-tab") === view); });
  }

  // graph view
  var gstate = { focus: null, whole: false, tag: "", group: "", kind: "" };
  var upInput = document.getElementById("levels-up"), downInput = document.getElementById("levels-down");
  var wholeBtn = document.getElementById("whole-graph"), panel = document.getElementById("graph-panel");
  var tagSel = document.getElementById("filter-tag"), groupSel = document.getElementById("filter-group");
  var info = document.getElementById("graph-info");
  var mainGraph = new GraphView(document.getElementById("graph"), {
    onSelect: showPanel,
    onOpen: function (n) { location.hash = n.href; },
    onInfo: function (shown, total) { info.textContent = shown.toLocaleString("en-US") + " of " + total.toLocaleString("en-US") + " shown · " + COUNT.toLocaleString("en-US") + " assets"; }
  });
  D.tags.forEach(function (t, i) { tagSel.appendChild(el("option", { value: String(i), text: t })); });
  D.groups.forEach(function (g, i) { groupSel.appendChild(el("option", { value: String(i), text: g })); });
  // the legend is the kind filter: a click shows only that kind, a second click all of them
  var legend = document.getElementById("legend");
  [["source", "source"], ["seed", "seed"], ["sql", "SQL model"], ["python", "Python asset"]].concat(ECOUNT ? [["exposure", "exposure"]] : []).forEach(function (k) {
    legend.appendChild(el("button", { type: "button", "data-kind": k[0], "aria-pressed": "false", title: "Show only: " + k[1], on: { click: function () {
      gstate.kind = gstate.kind === k[0] ? "" : k[0];
      legend.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-kind") === gstate.kind)); });
      applyFilter();
    } } }, el("i", { cls: "lg-" + k[0] }), k[1]));
  });
  legend.querySelectorAll("i").forEach(function (i) {
    var k = i.className.slice(3); i.style.background = getComputedStyle(document.documentElement).getPropertyValue("--k-" + k);
  });

  function defaultFocus() {
    var best = 0, score = -1;
    for (var i = 0; i < COUNT; i++) { var s = N.p[i].length + children[i].length; if (s > score) { score = s; best = i; } }
    return best;
  }
  function applyFilter() {
    var t = tagSel.value, g = groupSel.value, k = gstate.kind;
    if (!t && !g && !k) { mainGraph.setDim(null); return; }
    var ti = t ? parseInt(t, 10) : -1, gi = g ? parseInt(g, 10) : -1;
    mainGraph.setDim(function (n) {
      var i = n.idx, tags = i < COUNT ? N.t[i] : E.t[i - COUNT], group = i < COUNT ? N.g[i] : -1;
      return (!k || n.kind === k) && (ti < 0 || tags.indexOf(ti) >= 0) && (gi < 0 || group === gi);
    });
  }
  function drawGraphView() {
    wholeBtn.setAttribute("aria-pressed", String(gstate.whole));
    if (gstate.whole || COUNT === 0) {
      mainGraph.setGraph(wholeGraph(), gstate.focus === null ? null : keyOf(gstate.focus));
    } else {
      var f = gstate.focus === null ? defaultFocus() : gstate.focus;
      var up = Math.max(0, parseInt(upInput.value, 10) || 0), down = Math.max(0, parseInt(downInput.value, 10) || 0);
      var nb = neighbourhood(f, up, down);
      mainGraph.setGraph(nb.items, keyOf(f));
    }
    applyFilter();
  }
  function showPanel(item) {
    clear(panel);
    if (!item) { panel.hidden = true; return; }
    panel.hidden = false;
    var i = item.idx;
    panel.appendChild(el("button", { cls: "close", type: "button", title: "Close", text: "×", on: { click: function () { mainGraph.select(null); } } }));
    panel.appendChild(el("h2", { text: item.label }));
    if (item.kind === "exposure") { exposurePanel(item); return; }
    panel.appendChild(el("div", null, badge(kindLabel(item.kind), "kind-" + item.kind), " ", statusBadge(item.status), " ", item.check ? checkBadge(item.check) : null));
    var body = el("div", { cls: "muted", text: "…" });
    panel.appendChild(el("dl", { cls: "facts" },
      el("dt", { text: "Materialized" }), el("dd", { text: D.materializations[N.m[i]] }),
      el("dt", { text: "Upstream" }), el("dd", { text: String(N.p[i].length) }),
      el("dt", { text: "Downstream" }), el("dd", { text: String(children[i].length) })));
    panel.appendChild(body);
    panel.appendChild(el("div", { cls: "actions" },
      el("a", { href: assetHref(item.key), cls: "badge kind-sql", text: "Open asset →" }),
      el("a", { href: graphHref(item.key), cls: "badge", text: "Focus graph here" })));
    loadAsset(item.key).then(function (a) { body.textContent = a && a.summary ? a.summary : ""; }).catch(function () { body.textContent = ""; });
    if (hooks.panel) hooks.panel(panel, item);
  }
  function exposurePanel(item) {
    var x = E.d[item.idx - COUNT];
    panel.appendChild(el("div", null, badge("exposure", "kind-exposure"), " ", badge(x.type), x.maturity ? [" ", badge(x.maturity + " maturity")] : null));
    panel.appendChild(el("dl", { cls: "facts" },
      x.label ? [el("dt", { text: "Label" }), el("dd", { text: x.label })] : null,
      el("dt", { text: "Owner" }), el("dd", { text: ownerText(x.owner) }),
      el("dt", { text: "Depends on" }), el("dd", null, joinLinks(x.depends_on))));
    panel.appendChild(el("div", { cls: "muted", text: x.summary }));
    panel.appendChild(el("div", { cls: "actions" },
      el("a", { href: item.href, cls: "badge kind-exposure", text: "Open exposure →" }),
      el("a", { href: graphHref(item.key), cls: "badge", text: "Focus graph here" })));
  }
  function ownerText(o) { return [o.name, o.email].filter(function (v) { return v; }).join(" · ") || "–"; }
  function kindLabel(k) { return { source: "source", seed: "seed", sql: "SQL model", python: "Python asset", exposure: "exposure" }[k] || k; }
  upInput.addEventListener("change", function () { gstate.whole = false; drawGraphView(); });
  downInput.addEventListener("change", function () { gstate.whole = false; drawGraphView(); });
  wholeBtn.addEventListener("click", function () { gstate.whole = !gstate.whole; drawGraphView(); });
  tagSel.addEventListener("change", applyFilter);
  groupSel.addEventListener("change", applyFilter);
  document.getElementById("fit").addEventListener("click", function () { mainGraph.fit(); });

  // overview
  function statCard(value, label, sub) {
    return el("div", { cls: "stat" }, el("div", { cls: "v", text: value }), el("div", { cls: "l", text: label }), sub ? el("div", { cls: "sub", text: sub }) : null);
  }
  function table(headers, rows) {
    var t = el("table");
    t.appendChild(el("thead", null, el("tr", null, headers.map(function (h) { return el("th", { text: h }); }))));
    var tb = el("tbody");
    rows.forEach(function (r) { tb.appendChild(el("tr", null, r.map(function (c) { return c instanceof Node ? el("td", null, c) : el("td", { text: c === null || c === undefined ? "–" : String(c) }); }))); });
    t.appendChild(tb);
    return el("div", { cls: "table-box" }, t);
  }
  function renderOverview() {
    var o = D.overview, v = document.getElementById("view-overview");
    clear(v);
    var last = o.runs[0];
    v.appendChild(el("div", null, el("h1", { text: D.project.name }),
      el("div", { cls: "muted", text: "dialect " + D.project.dialect + " · target " + D.project.target_name + " (" + D.project.target_type + ") · generated " + fmtTime(D.generated_at) })));
    v.appendChild(el("div", { cls: "stats" },
      statCard(fmtNum(o.assets), "assets", o.kinds.sql + " SQL · " + o.kinds.python + " Python · " + o.kinds.seed + " seeds · " + o.kinds.source + " sources"),
      statCard(fmtNum(o.checks), "checks", o.failing_checks.length ? o.failing_checks.length + " failing or warning" : "none failing"),
      statCard(fmtNum(o.statuses.fresh), "up to date", o.statuses.never + " never materialized"),
      statCard(fmtNum(o.stale_total), "stale or failed", "assets to rebuild"),
      statCard(last ? last.status : "–", "last run", last ? last.command + " · " + fmtTime(last.started) + " · " + fmtDuration(last.duration) : "no runs recorded")));
    if (!o.has_state) v.appendChild(el("p", { cls: "empty-note", text: "No runs recorded yet: run `orch build`, then `orch docs generate` again to see materializations, partitions and check results." }));
    var left = el("div"), right = el("div");
    left.appendChild(el("h2", { text: "Failing checks" }));
    left.appendChild(o.failing_checks.length ? table(["Check", "Asset", "Status", "Failing rows", "When"], o.failing_checks.map(function (f) {
      return [el("span", { text: f.check }), f.asset ? assetLink(f.asset) : "–", checkBadge(f.status), fmtNum(f.failing_rows), fmtTime(f.at)];
    })) : el("p", { cls: "empty-note", text: "No failing checks." }));
    left.appendChild(el("h2", { text: "Recent runs" }));
    left.appendChild(o.runs.length ? table(["Command", "Status", "Started", "Duration", "Steps"], o.runs.map(function (r) {
      var counts = Object.keys(r.counts || {}).map(function (k) { return k + " " + r.counts[k]; }).join(", ");
      return [el("code", { text: r.command + (r.selection ? " -s " + r.selection : "") }), badge(r.status, r.status === "success" ? "st-fresh" : r.status === "running" ? "st-stale" : "st-failed"), fmtTime(r.started), fmtDuration(r.duration), counts || "–"];
    })) : el("p", { cls: "empty-note", text: "No runs yet." }));
    right.appendChild(el("h2", { text: "Stale assets" }));
    right.appendChild(o.stale.length ? table(["Asset", "Status"], o.stale.map(function (s) { return [assetLink(s[0]), statusBadge(s[1])]; })) : el("p", { cls: "empty-note", text: "Nothing stale." }));
    right.appendChild(el("h2", { text: "Slowest models" }));
    right.appendChild(o.slowest.length ? table(["Asset", "Duration", "Rows"], o.slowest.map(function (s) { return [assetLink(s[0]), fmtDuration(s[1]), fmtNum(s[2])]; })) : el("p", { cls: "empty-note", text: "No materializations yet." }));
    right.appendChild(el("h2", { text: "Materializations" }));
    right.appendChild(table(["Kind", "Assets"], Object.keys(o.materializations).sort().map(function (k) { return [k, fmtNum(o.materializations[k])]; })));
    v.appendChild(el("div", { cls: "two-col" }, left, right));
    if (ECOUNT) {
      v.appendChild(el("h2", { id: "exposures", text: "Exposures (" + ECOUNT + ")" }));
      v.appendChild(table(["Exposure", "Type", "Maturity", "Owner", "Depends on"], E.d.map(function (x) {
        return [el("span", null, exposureLink(x.name), x.label ? el("div", { cls: "muted", text: x.label }) : null), x.type, x.maturity || "–", ownerText(x.owner), el("span", null, joinLinks(x.depends_on))];
      })));
    }
    semanticSection(v, o.semantic || {});
  }
  // dbt's semantic layer (MetricFlow's): listed with what each is built on; no graph nodes
  function semanticSection(v, sem) {
    var parts = [["semantic_models", "Semantic models"], ["metrics", "Metrics"], ["saved_queries", "Saved queries"]];
    parts.forEach(function (p) {
      var rows = sem[p[0]] || [];
      if (!rows.length) return;
      v.appendChild(el("h2", { id: p[0].replace("_", "-"), text: p[1] + " (" + rows.length + ")" }));
      v.appendChild(table(["Name", "Description", "Built on"], rows.map(function (r) {
        var on = r.built_on.map(function (b, i) {
          var what = b[0] === "model" ? assetLink(b[1]) : el("code", { text: b[1] });
          return [i ? ", " : "", b[0] === "model" ? null : b[0] + " ", what, b[0] === "measure" && b[2] ? " (" + b[2] + ")" : null];
        });
        return [el("span", { "data-semantic": r.name }, el("code", { text: r.name }), r.label || r.type ? el("div", { cls: "muted", text: [r.label, r.type].filter(function (t) { return t; }).join(" · ") }) : null),
          r.description.length ? richText(r.description) : "–", on.length ? el("span", null, on) : "–"];
      })));
    });
  }

  // catalog: every asset in a sortable, filterable table (live: pick assets to materialize)
  var cstate = { sort: "name", dir: 1, q: "", kind: "", status: "", picked: new Set() };
  var CATALOG_LIMIT = 500;
  function catalogRows() {
    var rows = [];
    for (var i = 0; i < COUNT; i++) {
      rows.push({ i: i, name: N.n[i], kind: D.kinds[N.k[i]], group: N.g[i] >= 0 ? D.groups[N.g[i]] : "",
        materialized: D.materializations[N.m[i]], status: D.statuses[N.s[i]], check: D.check_statuses[N.c[i]],
        last: N.lm ? N.lm[i] || "" : "" });
    }
    return rows;
  }
  function renderCatalog() {
    var v = document.getElementById("view-catalog");
    clear(v);
    v.appendChild(el("h1", { text: "Assets" }));
    var q = el("input", { id: "catalog-filter", type: "search", placeholder: "Filter by name, group or tag…", value: cstate.q, autocomplete: "off" });
    var kindSel = el("select", { id: "catalog-kind" }, el("option", { value: "", text: "all kinds" }), D.kinds.map(function (k) { return el("option", { value: k, text: kindLabel(k), selected: cstate.kind === k }); }));
    var statusSel = el("select", { id: "catalog-status" }, el("option", { value: "", text: "any status" }), D.statuses.map(function (st) { return el("option", { value: st, text: st, selected: cstate.status === st }); }));
    var bar = el("div", { cls: "toolbar catalog-bar" }, q, kindSel, statusSel, el("span", { cls: "muted", id: "catalog-count" }));
    v.appendChild(bar);
    if (hooks.catalog) bar.appendChild(hooks.catalog(function () { return Array.from(cstate.picked); }));
    var box = el("div", { cls: "table-box" });
    v.appendChild(box);
    var cols = [["name", "Asset"], ["kind", "Kind"], ["group", "Group"], ["materialized", "Materialized"], ["status", "Status"], ["check", "Checks"], ["last", "Last materialization"]];
    function draw() {
      var needle = cstate.q.trim().toLowerCase();
      var rows = catalogRows().filter(function (r) {
        if (cstate.kind && r.kind !== cstate.kind) return false;
        if (cstate.status && r.status !== cstate.status) return false;
        if (!needle) return true;
        if (lower[r.i].indexOf(needle) >= 0 || r.group.toLowerCase().indexOf(needle) >= 0) return true;
        return N.t[r.i].some(function (t) { return D.tags[t].toLowerCase().indexOf(needle) >= 0; });
      });
      rows.sort(function (x, y) { var a = x[cstate.sort], b = y[cstate.sort]; return (a < b ? -1 : a > b ? 1 : x.name < y.name ? -1 : 1) * cstate.dir; });
      document.getElementById("catalog-count").textContent = fmtNum(rows.length) + " of " + fmtNum(COUNT) + " assets" + (rows.length > CATALOG_LIMIT ? " (first " + CATALOG_LIMIT + " shown)" : "");
      var t = el("table", { id: "catalog-table" });
      var head = el("tr");
      if (hooks.catalog) head.appendChild(el("th", { text: "" }));
      cols.forEach(function (c) {
        var arrow = cstate.sort === c[0] ? (cstate.dir > 0 ? " ▲" : " ▼") : "";
        head.appendChild(el("th", { "data-sort": c[0], cls: "sortable", "aria-sort": cstate.sort === c[0] ? (cstate.dir > 0 ? "ascending" : "descending") : null },
          el("button", { type: "button", text: c[1] + arrow, on: { click: function () { if (cstate.sort === c[0]) cstate.dir = -cstate.dir; else { cstate.sort = c[0]; cstate.dir = 1; } draw(); } } })));
      });
      t.appendChild(el("thead", null, head));
      var tb = el("tbody");
      rows.slice(0, CATALOG_LIMIT).forEach(function (r) {
        var tr = el("tr", { "data-asset": r.name });
        if (hooks.catalog) {
          var box = el("input", { type: "checkbox", "aria-label": "Select " + r.name, checked: cstate.picked.has(r.name) });
          box.addEventListener("change", function () { if (box.checked) cstate.picked.add(r.name); else cstate.picked.delete(r.name); });
          tr.appendChild(el("td", null, box));
        }
        tr.appendChild(el("td", null, link(assetHref(r.name), r.name)));
        tr.appendChild(el("td", null, badge(kindLabel(r.kind), "kind-" + r.kind)));
        tr.appendChild(el("td", { text: r.group || "–" }));
        tr.appendChild(el("td", { text: r.materialized }));
        tr.appendChild(el("td", null, statusBadge(r.status)));
        tr.appendChild(el("td", null, r.check ? checkBadge(r.check) : "–"));
        tr.appendChild(el("td", { text: r.last ? fmtTime(r.last) : "–" }));
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      clear(box); box.appendChild(t);
    }
    q.addEventListener("input", function () { cstate.q = q.value; draw(); });
    kindSel.addEventListener("change", function () { cstate.kind = kindSel.value; draw(); });
    statusSel.addEventListener("change", function () { cstate.status = statusSel.value; draw(); });
    draw();
  }

  // automation: jobs, schedules with their next tick, sensors, recent ticks
  function tickBadge(status) {
    var cls = { success: "st-fresh", failed: "st-failed", skipped: "st-never", requested: "st-stale" }[status] || "st-never";
    return badge(status, cls);
  }
  function lastTick(ticks) {
    var t = (ticks || [])[0];
    return t ? el("span", null, tickBadge(t.status), " ", fmtTime(t.time)) : el("span", { cls: "muted", text: "no ticks yet" });
  }
  // a tick at or before the generation time has not been handled yet: say so, and what follows
  function nextTick(s) {
    if (!s.next_tick) return "–";
    if (!s.due) return fmtTime(s.next_tick);
    var why = s.first_evaluation
      ? "never ticked: the daemon runs this tick when it first evaluates the schedule"
      : "not handled yet: ticks run while `orch daemon` (or `orch schedule tick`) runs"
        + (s.catchup === "latest" ? "; catchup latest runs only the newest due tick" : "");
    return el("span", { cls: "next-tick" }, badge("due", "st-stale", why), " since " + fmtTime(s.due_since),
      el("div", { cls: "muted", text: (s.first_evaluation ? "never ticked" : "not handled yet") + " · then " + fmtTime(s.upcoming_tick) }));
  }
  function renderAutomation() {
    var A = D.automation, v = document.getElementById("view-automation");
    clear(v);
    v.appendChild(el("div", null, el("h1", { text: "Automation" }),
      el("div", { cls: "muted", text: "Jobs, schedules and sensors; next ticks as of " + fmtTime(D.generated_at) + ". `orch daemon` runs them." })));
    if (!A) { v.appendChild(el("p", { cls: "empty-note", text: "This project declares no jobs, schedules or sensors." })); return; }
    if (A.error) v.appendChild(el("div", { cls: "error-box", id: "automation-error" }, el("strong", { text: "Could not load schedules and sensors: " }), el("pre", { text: A.error })));
    v.appendChild(el("h2", { text: "Jobs (" + A.jobs.length + ")" }));
    v.appendChild(A.jobs.length ? table(["Job", "Selection", "Partitions", "Description"], A.jobs.map(function (j) {
      return [el("code", { text: j.name }), el("code", { text: j.select + (j.exclude ? " --exclude " + j.exclude : "") }), j.partitions || "–", j.description || "–"];
    })) : el("p", { cls: "empty-note", text: "No jobs." }));
    v.appendChild(el("h2", { text: "Schedules (" + A.schedules.length + ")" }));
    v.appendChild(A.schedules.length ? table(["Schedule", "Job", "Cron", "Timezone", "Next tick", "Last tick"], A.schedules.map(function (s) {
      return [el("span", null, el("code", { text: s.name }), s.enabled ? null : [" ", badge("disabled")], s.description ? el("div", { cls: "muted", text: s.description }) : null),
        el("code", { text: s.job }), el("code", { text: s.cron }), s.timezone || "UTC", nextTick(s), lastTick(s.ticks)];
    })) : el("p", { cls: "empty-note", text: "No schedules." }));
    v.appendChild(el("h2", { text: "Sensors (" + A.sensors.length + ")" }));
    v.appendChild(A.sensors.length ? table(["Sensor", "Kind", "Job", "Cursor", "Last tick"], A.sensors.map(function (s) {
      return [el("span", null, el("code", { text: s.name }), s.enabled ? null : [" ", badge("disabled")], s.description ? el("div", { cls: "muted", text: s.description }) : null),
        s.kind, el("code", { text: s.job }), s.cursor === null || s.cursor === undefined ? "–" : el("code", { text: s.cursor }), lastTick(s.ticks)];
    })) : el("p", { cls: "empty-note", text: "No sensors." }));
    var ticks = [];
    A.schedules.concat(A.sensors).forEach(function (d) { (d.ticks || []).forEach(function (t) { ticks.push([d.name, t]); }); });
    ticks.sort(function (x, y) { return x[1].time < y[1].time ? 1 : x[1].time > y[1].time ? -1 : (x[0] < y[0] ? -1 : 1); });
    v.appendChild(el("h2", { text: "Recent ticks" }));
    v.appendChild(ticks.length ? table(["Time", "Schedule / sensor", "Status", "Runs", "Skip reason or error"], ticks.slice(0, 50).map(function (x) {
      var t = x[1];
      return [fmtTime(t.time), el("code", { text: x[0] }), tickBadge(t.status),
        t.run_ids.length ? el("span", null, t.run_ids.map(function (r, i) { return [i ? ", " : "", el("code", { text: r.slice(0, 8), title: r })]; })) : "–",
        t.error ? el("pre", { cls: "tick-error", text: t.error }) : (t.skip_reason || "–")];
    })) : el("p", { cls: "empty-note", text: "No ticks recorded yet: run `orch daemon` or `orch schedule tick`." }));
    var opJobs = A.op_jobs || [];
    if (opJobs.length) {
      v.appendChild(el("h2", { text: "Op jobs (" + opJobs.length + ")" }));
      v.appendChild(table(["Op job", "Ops (in order)", "Recent runs", "Defined in"], opJobs.map(function (j) {
        return [el("span", { id: "op-job-" + j.name }, el("code", { text: j.name }), j.description ? el("div", { cls: "muted", text: j.description }) : null),
          el("span", null, j.ops.map(function (o, i) {
            var label = o.name + (o.mapped_by ? "[*]" : "");
            var title = "inputs: " + (Object.keys(o.inputs).map(function (k) { return k + " ← " + o.inputs[k]; }).join(", ") || "none")
              + (o.config ? "; config " + o.config : "") + (o.retries ? "; retries " + o.retries : "");
            return [i ? " → " : "", el("code", { text: label, title: title })];
          })),
          j.runs.length ? el("span", null, j.runs.map(function (r, i) {
            return [i ? " " : "", badge(r.status, { success: "st-fresh", failed: "st-failed", interrupted: "st-stale", running: "st-stale" }[r.status] || "st-never", fmtTime(r.started_at) + " · run " + r.run_id.slice(0, 8))];
          })) : el("span", { cls: "muted", text: "never run" }),
          el("code", { text: j.location })];
      })));
      opJobs.forEach(function (j) {
        if (!j.last_steps.length) return;
        v.appendChild(el("h3", { text: j.name + ": steps of the last run (" + j.runs[0].run_id.slice(0, 8) + ")" }));
        v.appendChild(table(["Step", "Status", "Attempts", "Seconds", "Outputs", "Error"], j.last_steps.map(function (s) {
          var outs = Object.keys(s.outputs).map(function (k) { var o = s.outputs[k]; return k + ": " + (o.type || "?") + (o.size ? " (" + o.size + ")" : ""); }).join(", ");
          return [el("code", { text: s.step }), tickBadge(s.status), String(s.attempts), (s.duration_s || 0).toFixed(2),
            s.reused_from ? "reused from run " + s.reused_from.slice(0, 8) : (outs || "–"),
            s.error ? el("pre", { cls: "tick-error", text: s.error + (s.path ? " (" + s.path + ")" : "") }) : "–"];
        })));
      });
    }
  }

  // asset page
  var miniGraph = null;
  function renderAsset(name, column) {
    var v = document.getElementById("view-asset");
    clear(v);
    v.appendChild(el("p", { cls: "muted", text: "Loading " + name + "…" }));
    loadAsset(name).then(function (a) {
      clear(v);
      if (!a) { v.appendChild(el("div", { cls: "error-box", text: "Unknown asset: " + name })); return; }
      buildAssetPage(v, a, column);
    }).catch(function (err) { clear(v); v.appendChild(el("div", { cls: "error-box", text: String(err.message || err) })); });
  }
  function buildAssetPage(v, a, column) {
    var head = el("div");
    head.appendChild(el("div", { cls: "crumbs" }, link("#/", "Assets"), a.group ? " / " + a.group : "", " / ", el("span", { text: a.name })));
    head.appendChild(el("div", { cls: "title-row" }, el("h1", { text: a.name }),
      badge(kindLabel(a.kind), "kind-" + a.kind), badge(a.materialized), statusBadge(a.status),
      el("span", { cls: "spacer" }), link(graphHref(a.name), "View in graph →")));
    v.appendChild(head);
    if (hooks.asset) hooks.asset(head, a);
    var mini = el("div", { cls: "mini-graph" });
    var left = el("div", { cls: "card-box" });
    left.appendChild(el("h3", { text: "Description" }));
    left.appendChild(a.description.length ? richText(a.description) : el("p", { cls: "muted", text: "No description." }));
    var facts = el("dl", { cls: "facts" });
    function fact(label, value) { if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return; facts.appendChild(el("dt", { text: label })); facts.appendChild(el("dd", null, value)); }
    fact("Project", a.project);
    fact("Kind", kindLabel(a.kind) + (a.language ? " (" + a.language + ")" : ""));
    fact("Materialized", a.materialized);
    var fr = a.freshness;
    if (fr && fr.status !== "up to date") {
      var via = fr.causes.length > 1 ? " (via " + fr.causes.slice(0, -1).join(" → ") + ")" : "";
      fact("Freshness", fr.reason + via);
    }
    fact("Owner", a.owner);
    if (a.deprecation_date) fact("Deprecation date", a.deprecation_date + (new Date(a.deprecation_date) < new Date() ? " (passed: disable or remove it)" : ""));
    fact("Group", a.group);
    fact("Tags", a.tags.map(function (t) { return el("span", { cls: "tag", text: t }); }));
    fact("Relation", a.relation ? el("code", { text: a.relation }) : null);
    fact("Stored by", a.stored ? el("code", { text: a.stored.io_manager + (a.stored.uri ? ": " + a.stored.uri : "") + (a.stored.format ? " (" + a.stored.format + ")" : "") }) : null);
    fact("File", a.path ? el("code", { text: a.path }) : null);
    fact("Properties", a.patch_path ? el("code", { text: a.patch_path }) : null);
    fact("Source", a.source ? a.source.join(".") : null);
    fact("Source freshness", a.source_freshness);
    Object.keys(a.config).forEach(function (k) { fact(k.replace(/_/g, " "), plainValue(a.config[k])); });
    if (a.partitions) fact("Partitions", a.partitions.definition);
    Object.keys(a.meta || {}).forEach(function (k) { fact("meta." + k, plainValue(a.meta[k])); });
    fact("Fingerprint", a.fingerprint ? el("code", { text: a.fingerprint.slice(0, 12) }) : null);
    var right = el("div", { cls: "card-box" }, el("h3", { text: "Details" }), facts);
    left.appendChild(el("h3", { text: "Lineage" }));
    left.appendChild(el("dl", { cls: "facts" },
      el("dt", { text: "Upstream" }), el("dd", null, a.parents.length ? joinLinks(a.parents) : "none"),
      el("dt", { text: "Downstream" }), el("dd", null, a.children.length ? joinLinks(a.children) : "none"),
      a.exposures && a.exposures.length ? [el("dt", { text: "Used by" }), el("dd", { cls: "used-by" }, joinLinks(a.exposures, exposureLink))] : null));
    v.appendChild(el("div", { cls: "grid" }, left, right));
    v.appendChild(mini);
    var gsvg = svg("svg", { "class": "graph" }); mini.appendChild(gsvg);
    mini.appendChild(link(graphHref(a.name), "Open in graph", "open-graph"));
    miniGraph = new GraphView(gsvg, { onOpen: function (n) { location.hash = n.href; }, onSelect: function (n) { if (n && n.key !== a.name) location.hash = n.href; } });
    var nb = neighbourhood(nameIndex.get(a.name), 1, 1);
    miniGraph.setGraph(nb.items, a.name);

    if (a.partitions) v.appendChild(partitionSection(a.partitions));
    v.appendChild(columnsSection(a, column));
    v.appendChild(checksSection(a));
    if (a.unit_tests && a.unit_tests.length) v.appendChild(unitTestsSection(a));
    v.appendChild(runsSection(a));
    if (a.data_versions) v.appendChild(dataVersionSection(a.data_versions));
    if (a.built_by) v.appendChild(builtBySection(a));
    v.appendChild(codeSection(a));
    if (column) {
      var row = v.querySelector("tr[data-column]");
      v.querySelectorAll("tr[data-column]").forEach(function (r) { if (r.getAttribute("data-column") === column) row = r; });
      if (row && row.getAttribute("data-column") === column) row.scrollIntoView({ block: "center" });
    }
  }
  function joinLinks(names, linker) {
    var out = [];
    names.forEach(function (n, i) { if (i) out.push(", "); out.push((linker || assetLink)(n)); });
    return out;
  }

  // exposure page: what a dbt exposure is, who owns it, where it lives and what it uses
  function renderExposure(name) {
    var v = document.getElementById("view-exposure");
    clear(v);
    var g = exposureIndex.get(name);
    if (g === undefined) { v.appendChild(el("div", { cls: "error-box", text: "Unknown exposure: " + name })); return; }
    var x = E.d[g - COUNT];
    v.appendChild(el("div", { cls: "crumbs" }, link("#/", "Assets"), " / exposures / ", el("span", { text: x.name })));
    v.appendChild(el("div", { cls: "title-row" }, el("h1", { text: x.name }),
      badge("exposure", "kind-exposure"), badge(x.type, "exposure-type"), x.maturity ? badge(x.maturity + " maturity", "exposure-maturity") : null,
      el("span", { cls: "spacer" }), link(graphHref(keyOf(g)), "View in graph →")));
    var left = el("div", { cls: "card-box" });
    left.appendChild(el("h3", { text: "Description" }));
    left.appendChild(x.description.length ? richText(x.description) : el("p", { cls: "muted", text: "No description." }));
    left.appendChild(el("h3", { text: "Depends on" }));
    left.appendChild(el("p", { cls: "depends-on" }, x.depends_on.length ? joinLinks(x.depends_on) : "nothing"));
    var facts = el("dl", { cls: "facts" });
    function fact(label, value, cls) { if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return; facts.appendChild(el("dt", { text: label })); facts.appendChild(el("dd", { cls: cls }, value)); }
    fact("Label", x.label, "exposure-label");
    fact("Type", x.type);
    fact("Maturity", x.maturity);
    fact("URL", urlNode(x.url));
    fact("Owner", x.owner.name, "owner-name");
    fact("Owner email", x.owner.email, "owner-email");
    fact("Tags", x.tags.map(function (t) { return el("span", { cls: "tag", text: t }); }));
    Object.keys(x.meta || {}).forEach(function (k) { fact("meta." + k, plainValue(x.meta[k])); });
    fact("File", x.path ? el("code", { text: x.path }) : null);
    v.appendChild(el("div", { cls: "grid" }, left, el("div", { cls: "card-box" }, el("h3", { text: "Details" }), facts)));
    var mini = el("div", { cls: "mini-graph" });
    v.appendChild(mini);
    var gsvg = svg("svg", { "class": "graph" }); mini.appendChild(gsvg);
    mini.appendChild(link(graphHref(keyOf(g)), "Open in graph", "open-graph"));
    var view = new GraphView(gsvg, { onOpen: function (n) { location.hash = n.href; }, onSelect: function (n) { if (n && n.key !== keyOf(g)) location.hash = n.href; } });
    view.setGraph(neighbourhood(g, 1, 0).items, keyOf(g));
  }
  function columnsSection(a, highlight) {
    var box = el("section", { id: "columns" }, el("h2", { text: "Columns (" + a.columns.length + ")" }));
    if (!a.columns.length) { box.appendChild(el("p", { cls: "empty-note", text: "No columns known: describe them in YAML, or the compiler could not infer them." })); return box; }
    var t = el("table");
    t.appendChild(el("thead", null, el("tr", null, ["Column", "Type", "Description", "Checks", "Comes from", ""].map(function (h) { return el("th", { text: h }); }))));
    var tb = el("tbody");
    a.columns.forEach(function (c) {
      var ups = c.up.map(function (r) { return link(columnHref(r[0], r[1]), r[0] + "." + r[1], "colref"); });
      tb.appendChild(el("tr", { "data-column": c.name, cls: c.name === highlight ? "highlight" : null },
        el("td", null, el("code", { text: c.name }), c.tags.map(function (t) { return [" ", el("span", { cls: "tag", text: t })]; })),
        el("td", { text: c.type || "" }),
        el("td", null, richText(c.description)),
        el("td", null, c.checks.map(function (n) { return el("span", { cls: "tag", text: n }); })),
        el("td", null, ups.length ? ups : el("span", { cls: "muted", text: a.kind === "sql" ? "–" : "" })),
        el("td", null, link(columnHref(a.name, c.name), "lineage →", "col-lineage"))));
    });
    t.appendChild(tb);
    box.appendChild(el("div", { cls: "table-box" }, t));
    return box;
  }
  function checksSection(a) {
    var box = el("section", { id: "checks" }, el("h2", { text: "Checks (" + a.checks.length + ")" }));
    if (!a.checks.length) { box.appendChild(el("p", { cls: "empty-note", text: "No checks on this asset." })); return box; }
    var t = el("table", { cls: "checks-table" });
    t.appendChild(el("thead", null, el("tr", null, ["Status", "Check", "Column", "Severity", "Failing rows", "Last run", ""].map(function (h) { return el("th", { text: h }); }))));
    var tb = el("tbody");
    a.checks.forEach(function (c) {
      var last = c.last;
      var detail = el("tr", { cls: "check-detail" }, el("td", { colspan: "7" }, checkDetail(c, a.columns.map(function (col) { return col.name; }))));
      var toggle = el("button", { type: "button", text: "details", on: { click: function () { detail.classList.toggle("open"); } } });
      tb.appendChild(el("tr", { "data-check": c.name },
        el("td", null, checkBadge(c.status)),
        el("td", null, el("code", { text: c.name }), el("div", { cls: "muted", text: c.type + (c.blocking ? " · blocking" : "") })),
        el("td", { text: c.column || "–" }),
        el("td", { text: c.severity }),
        el("td", { cls: "num", text: last ? fmtNum(last.failing_rows) : "–" }),
        el("td", { text: last ? fmtTime(last.at) : "never" }),
        el("td", null, toggle)));
      tb.appendChild(detail);
      if (c.status === "fail" || c.status === "warn") detail.classList.add("open");
    });
    t.appendChild(tb);
    box.appendChild(el("div", { cls: "table-box" }, t));
    return box;
  }
  function unitTestsSection(a) {
    var box = el("section", { id: "unit-tests" }, el("h2", { text: "Unit tests (" + a.unit_tests.length + ")" }));
    var t = el("table");
    t.appendChild(el("thead", null, el("tr", null, ["Status", "Unit test", "Given", "Last run", ""].map(function (h) { return el("th", { text: h }); }))));
    var tb = el("tbody");
    a.unit_tests.forEach(function (u) {
      var last = u.last;
      var inner = el("div");
      if (u.description.length) inner.appendChild(richText(u.description));
      if (u.location) inner.appendChild(el("p", { cls: "muted", text: "Defined at " + u.location + (u.this ? " · with prior rows (this:)" : "") + (u.partition ? " · partition " + u.partition : "") }));
      if (last && last.message) inner.appendChild(el("pre", { cls: "unit-diff", text: last.message }));
      if (u.history.length) inner.appendChild(el("p", { cls: "muted" }, "History: ", u.history.map(function (h) { return [checkBadge(h[0]), " "]; })));
      var detail = el("tr", { cls: "check-detail" }, el("td", { colspan: "5" }, inner));
      var toggle = el("button", { type: "button", text: "details", on: { click: function () { detail.classList.toggle("open"); } } });
      tb.appendChild(el("tr", { "data-unit-test": u.name },
        el("td", null, checkBadge(u.status)),
        el("td", null, el("code", { text: u.name })),
        el("td", null, u.given.map(function (g) { return el("span", { cls: "tag", text: g }); })),
        el("td", { text: last ? fmtTime(last.at) : "never" }),
        el("td", null, toggle)));
      tb.appendChild(detail);
      if (u.status === "fail") detail.classList.add("open");
    });
    t.appendChild(tb);
    box.appendChild(el("div", { cls: "table-box" }, t));
    return box;
  }
  // A check's results over time, oldest left: one cell per result (its status; its height the
  // failing rows, on a log scale), with the time and count in its title, and the tally.
  function checkHistory(history) {
    var box = el("div", { cls: "check-history" }), tally = {};
    var rows = history.slice().reverse(), most = Math.max.apply(null, rows.map(function (h) { return h[2] || 0; }).concat([1]));
    var strip = el("div", { cls: "hist-strip", "aria-label": "Check history" });
    rows.forEach(function (h) {
      tally[h[0]] = (tally[h[0]] || 0) + 1;
      var frac = h[2] ? 0.35 + 0.65 * Math.log(1 + h[2]) / Math.log(1 + most) : 0.35;
      var cell = el("span", { cls: "h-" + h[0], "data-status": h[0], "data-failing": String(h[2] || 0),
        title: fmtTime(h[1]) + ": " + h[0] + (h[2] ? " · " + fmtNum(h[2]) + " failing rows" : "") });
      cell.style.height = Math.round(6 + 18 * frac) + "px";  // CSSOM, allowed by the page's CSP
      strip.appendChild(cell);
    });
    var summary = Object.keys(tally).map(function (k) { return tally[k] + " " + k; }).join(", ");
    box.appendChild(el("h3", { text: "History (" + rows.length + " results: " + summary + ")" }));
    box.appendChild(strip);
    box.appendChild(el("div", { cls: "muted hist-range", text: fmtTime(rows[0][1]) + (rows.length > 1 ? " → " + fmtTime(rows[rows.length - 1][1]) : "") }));
    return box;
  }
  function checkDetail(c, columnOrder) {
    var box = el("div");
    if (c.description.length) box.appendChild(richText(c.description));
    var last = c.last;
    if (last && last.message) box.appendChild(el("p", { text: last.message }));
    if (last && last.failing_partitions.length) box.appendChild(el("p", { cls: "muted", text: "Failing partitions: " + last.failing_partitions.join(", ") }));
    if (last && last.sample.length) {
      var cols = [];
      last.sample.forEach(function (r) { Object.keys(r).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); }); });
      // the table's column order (samples are stored as JSON objects, whose keys come back sorted)
      var rank = function (k) { var i = (columnOrder || []).indexOf(k); return i < 0 ? 1e6 + cols.indexOf(k) : i; };
      cols.sort(function (x, y) { return rank(x) - rank(y); });
      box.appendChild(el("div", { cls: "sample" }, el("h3", { text: "Failing rows (sample of " + last.sample.length + ")" }),
        table(cols, last.sample.map(function (r) { return cols.map(function (k) { return r[k] === null ? "NULL" : plainValue(r[k]); }); }))));
    }
    if (c.history.length) box.appendChild(checkHistory(c.history));
    if (Object.keys(c.args || {}).length) box.appendChild(el("p", { cls: "muted", text: "Arguments: " + JSON.stringify(c.args) }));
    if (c.sql.length) { box.appendChild(el("h3", { text: "Query (rows returned are failures)" })); box.appendChild(codeBlock(c.sql)); }
    return box;
  }
  function partitionSection(p) {
    var box = el("section", { id: "partitions" }, el("h2", { text: "Partitions (" + p.keys.length + ")" }));
    var card = el("div", { cls: "card-box" });
    var labels = { m: "materialized", "-": "missing", s: "stale", f: "failed" };
    var strip = el("div", { cls: "strip", "aria-label": "Partition status" });
    for (var i = 0; i < p.keys.length; i++) {
      var code = p.codes[i];
      strip.appendChild(el("span", { cls: code === "-" ? "x" : code, title: p.keys[i] + ": " + labels[code], "data-key": p.keys[i], "data-status": labels[code] }));
    }
    var legendBox = el("div", { cls: "strip-legend" }, el("span", { text: p.definition }));
    [["m", "materialized"], ["-", "missing"], ["s", "stale"], ["f", "failed"]].forEach(function (x) {
      var sw = el("i", { cls: "" }); sw.style.background = { m: "var(--s-fresh)", "-": "#e5e7eb", s: "var(--s-stale)", f: "var(--s-failed)" }[x[0]];
      legendBox.appendChild(el("span", null, sw, x[1] + " " + fmtNum(p.counts[x[1]])));
    });
    card.appendChild(legendBox); card.appendChild(strip);
    if (p.keys.length) card.appendChild(el("div", { cls: "muted", text: p.keys[0] + " … " + p.keys[p.keys.length - 1] }));
    box.appendChild(card);
    return box;
  }
  function runsSection(a) {
    var box = el("section", { id: "runs" }, el("h2", { text: "Recent materializations" }));
    if (!a.runs.length) { box.appendChild(el("p", { cls: "empty-note", text: a.status === "none" ? "Not materialized by orch (" + a.materialized + ")." : "Never materialized." })); return box; }
    box.appendChild(table(["Status", "Partition", "Started", "Duration", "Rows", "Run", "Code", "Metadata"], a.runs.map(function (r) {
      return [badge(r.status, r.status === "success" ? "st-fresh" : "st-failed", r.error || ""), r.partition || "–", fmtTime(r.started), fmtDuration(r.duration), fmtNum(r.rows), el("code", { text: r.run.slice(0, 8) }), r.current ? "current" : "older", metadataList(r.metadata)];
    })));
    return box;
  }
  // data versions (orch.docs.versions): what the asset holds now, what it read of each
  // upstream and what each downstream materialization read of it ("same": still up to date)
  function dataVersionSection(d) {
    var box = el("section", { id: "data-versions" }, el("h2", { text: "Data versions" }));
    function short(v) { return v ? el("code", { text: v.slice(0, 8), title: v }) : "–"; }
    function same(r) { return badge(r.same ? "same data" : "other data", r.same ? "st-fresh" : "st-stale"); }
    function more(n) { if (n) box.appendChild(el("p", { cls: "muted", text: "and " + n + " more" })); }
    box.appendChild(el("dl", { cls: "facts" }, el("dt", { text: "Current" }), el("dd", { cls: "dv-current" }, short(d.current))));
    if (d.partitions.length) {
      box.appendChild(el("h3", { text: "Partitions" }));
      box.appendChild(table(["Partition", "Data version"], d.partitions.map(function (p) { return [p[0], short(p[1])]; })));
      more(d.partitions_more);
    }
    if (d.read.length) {
      box.appendChild(el("h3", { text: "Read from upstream" }));
      box.appendChild(table(["Upstream", "Read", "Now", ""], d.read.map(function (r) {
        return [el("span", null, assetLink(r.asset), r.partition ? "[" + r.partition + "]" : ""), short(r.read), short(r.now), same(r)];
      })));
      more(d.read_more);
    }
    if (d.readers.length) {
      box.appendChild(el("h3", { text: "Read by downstream" }));
      box.appendChild(table(["Downstream", "Materialized", "Read", ""], d.readers.map(function (r) {
        return [el("span", null, assetLink(r.reader), r.reader_partition ? "[" + r.reader_partition + "]" : ""), fmtTime(r.at),
          el("span", null, short(r.read), r.partition ? " (" + r.partition + ")" : ""), same(r)];
      })));
      more(d.readers_more);
    }
    return box;
  }
  // code provenance: the run and git commit that built the newest materialization, and a
  // diff to today's code when it changed (every value set as text: nothing is parsed as HTML)
  function builtBySection(a) {
    var b = a.built_by;
    var box = el("section", { id: "built-by" }, el("h2", { text: "Built by this code" }));
    var git = !b.git_known ? "not recorded" : b.commit ? b.commit.slice(0, 12) + (b.dirty ? " (uncommitted changes)" : "") : "not a git work tree";
    box.appendChild(el("dl", { cls: "facts" },
      el("dt", { text: "Run" }), el("dd", null, el("code", { text: b.run.slice(0, 8) }), " at " + fmtTime(b.at)),
      el("dt", { text: "Git commit" }), el("dd", null, el("code", { cls: "built-commit", text: git })),
      el("dt", { text: "Code" }), el("dd", { cls: "built-state", text: !b.recorded ? "not recorded (built before code provenance)" : b.changed ? "changed since it was built (diff below)" : "unchanged since it was built" })));
    if (b.changed && b.diff.length) {
      var pre = el("pre", { cls: "code diff" }), code = el("code");
      b.diff.forEach(function (line) {
        var c = line.charAt(0);
        var cls = line.slice(0, 3) === "---" || line.slice(0, 3) === "+++" ? "diff-file" : c === "+" ? "diff-add" : c === "-" ? "diff-del" : c === "@" ? "diff-hunk" : null;
        code.appendChild(el("span", { cls: cls, text: line + "\n" }));
      });
      pre.appendChild(code);
      box.appendChild(pre);
    }
    return box;
  }
  // output metadata from context.add_output_metadata: key = JSON value, as text
  function metadataList(md) {
    var keys = Object.keys(md || {});
    if (!keys.length) return el("span", { cls: "muted", text: "–" });
    var dl = el("dl", { cls: "metadata" });
    keys.forEach(function (k) {
      var text = plainValue(md[k]);
      dl.appendChild(el("dt", { text: k }));
      dl.appendChild(el("dd", { title: text.length > 120 ? text : null, text: text.length > 120 ? text.slice(0, 119) + "…" : text }));
    });
    return dl;
  }
  function codeSection(a) {
    var box = el("section", { id: "code" }, el("h2", { text: a.language === "python" ? "Source" : "SQL" }));
    var tabs = [];
    if (a.raw.length) tabs.push([a.language === "python" ? "Python" : "Raw SQL", a.raw]);
    if (a.compiled.length) tabs.push(["Compiled SQL", a.compiled]);
    if (a.compiled_incremental.length) tabs.push(["Compiled (incremental)", a.compiled_incremental]);
    if (!tabs.length) { box.appendChild(el("p", { cls: "empty-note", text: a.kind === "seed" ? "A seed: loaded from a CSV file." : "No code." })); return box; }
    var bar = el("div", { cls: "code-tabs", role: "tablist" }), holder = el("div");
    tabs.forEach(function (t, i) {
      var b = el("button", { type: "button", role: "tab", "aria-selected": String(i === 0), text: t[0], on: { click: function () {
        bar.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-selected", String(x === b)); });
        clear(holder); holder.appendChild(codeBlock(t[1]));
      } } });
      bar.appendChild(b);
    });
    holder.appendChild(codeBlock(tabs[0][1]));
    box.appendChild(bar); box.appendChild(holder);
    return box;
  }

  // column lineage view: walk column refs through the chunks, both ways
  var colGraph = null;
  function renderColumn(asset, column) {
    var v = document.getElementById("view-column");
    clear(v);
    v.appendChild(el("div", { cls: "crumbs" }, link("#/", "Assets"), " / ", link(assetHref(asset), asset), " / ", el("span", { text: column })));
    v.appendChild(el("div", { cls: "title-row" }, el("h1", { text: asset + "." + column }), badge("column lineage"),
      el("span", { cls: "spacer" }), link(assetHref(asset) + "/" + encodeURIComponent(column), "Open asset →")));
    var status = el("p", { cls: "muted", text: "Tracing lineage…" });
    v.appendChild(status);
    var graphBox = el("div", { cls: "col-graph" }); v.appendChild(graphBox);
    var lists = el("div", { cls: "two-col" }); v.appendChild(lists);
    traceColumn(asset, column).then(function (res) {
      var start = res.nodes.get(asset + "." + column);
      status.textContent = start ? (res.up.length + " upstream and " + res.down.length + " downstream columns" + (res.truncated ? " (cut at 2,000)" : "")) : "Unknown column " + asset + "." + column;
      if (start && start.description && start.description.length) v.insertBefore(richText(start.description), status);
      var items = [];
      res.nodes.forEach(function (n, key) {
        var i = nameIndex.get(n.asset);
        items.push({ key: key, asset: n.asset, column: n.column, label: n.column, sub: n.asset, layer: N.l[i], order0: N.y[i], kind: D.kinds[N.k[i]], status: null, check: null });
      });
      localLayout(items, res.edges);
      var gsvg = svg("svg", { "class": "graph" }); graphBox.appendChild(gsvg);
      colGraph = new GraphView(gsvg, { onSelect: function (n) { if (n && n.key !== asset + "." + column) location.hash = columnHref(n.asset, n.column); } });
      colGraph.setGraph(items, asset + "." + column);
      function list(title, refs) {
        var box = el("div", null, el("h2", { text: title }));
        box.appendChild(refs.length ? table(["Column", "Asset", "Distance"], refs.map(function (r) {
          return [link(columnHref(r.asset, r.column), r.column, "colref"), assetLink(r.asset), String(r.depth)];
        })) : el("p", { cls: "empty-note", text: "None." }));
        return box;
      }
      lists.appendChild(list("Upstream columns", res.up));
      lists.appendChild(list("Downstream columns", res.down));
    }).catch(function (err) { status.textContent = String(err.message || err); });
  }
  function traceColumn(asset, column) {
    var nodes = new Map(), edges = [], up = [], down = [], truncated = false, LIMIT = 2000;
    function visit(a, c, depth, dir, out) {
      var key = a + "." + c;
      if (nodes.has(key) && depth > 0) return Promise.resolve();
      if (nodes.size >= LIMIT) { truncated = true; return Promise.resolve(); }
      return loadAsset(a).then(function (d) {
        var col = d ? d.columns.find(function (x) { return x.name === c; }) : null;
        if (!nodes.has(key)) { nodes.set(key, { asset: a, column: c, description: col ? col.description : [] }); if (depth > 0) out.push({ asset: a, column: c, depth: depth }); }
        if (!col) return;
        var refs = dir === "up" ? col.up : col.down;
        return Promise.all(refs.map(function (r) {
          var other = r[0] + "." + r[1];
          edges.push(dir === "up" ? [other, key] : [key, other]);
          if (nodes.has(other)) return null;
          return visit(r[0], r[1], depth + 1, dir, out);
        }));
      });
    }
    return visit(asset, column, 0, "up", up).then(function () { return visit(asset, column, 0, "down", down); }).then(function () {
      var seen = new Set();
      edges = edges.filter(function (e) { var k = e[0] + ">" + e[1]; if (seen.has(k)) return false; seen.add(k); return true; });
      up.sort(function (x, y) { return x.depth - y.depth; }); down.sort(function (x, y) { return x.depth - y.depth; });
      return { nodes: nodes, edges: edges, up: up, down: down, truncated: truncated };
    });
  }

  // ------------------------------------------------------------------ search
  var search = document.getElementById("search"), results = document.getElementById("search-results");
  var active = -1, found = [];
  function runSearch() {
    var q = search.value.trim().toLowerCase();
    clear(results); active = -1; found = [];
    if (!q) { results.hidden = true; search.setAttribute("aria-expanded", "false"); return; }
    var scored = [];
    for (var i = 0; i < GCOUNT; i++) {
      var p = lower[i].indexOf(q);
      if (p >= 0) scored.push([p === 0 ? 0 : (lower[i].charAt(p - 1) === "_" ? 1 : 2), lower[i].length, i]);
    }
    scored.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || (nameOf(a[2]) < nameOf(b[2]) ? -1 : 1); });
    found = scored.slice(0, 30).map(function (s) { return s[2]; });
    found.forEach(function (idx, k) {
      var kind = idx < COUNT ? D.kinds[N.k[idx]] : "exposure";
      var hint = idx >= COUNT ? D.exposure_types[E.e[idx - COUNT]] : N.g[idx] >= 0 ? D.groups[N.g[idx]] : D.materializations[N.m[idx]];
      var li = el("li", { role: "option", id: "sr-" + k, "data-name": nameOf(idx), "data-kind": kind, on: { mousedown: function (e) { e.preventDefault(); openResult(k); }, mousemove: function () { setActive(k); } } },
        el("span", { cls: "badge kind-" + kind, text: kindLabel(kind) }), el("span", { text: nameOf(idx) }),
        el("span", { cls: "hint", text: hint }));
      results.appendChild(li);
    });
    if (!found.length) results.appendChild(el("li", { cls: "empty", text: "No asset matches." }));
    else if (scored.length > found.length) results.appendChild(el("li", { cls: "empty", text: (scored.length - found.length) + " more…" }));
    results.hidden = false; search.setAttribute("aria-expanded", "true");
    setActive(found.length ? 0 : -1);
  }
  function setActive(k) {
    active = k;
    results.querySelectorAll("li[role=option]").forEach(function (li, j) { li.classList.toggle("active", j === k); if (j === k) li.scrollIntoView({ block: "nearest" }); });
    if (k >= 0) search.setAttribute("aria-activedescendant", "sr-" + k); else search.removeAttribute("aria-activedescendant");
  }
  function openResult(k) {
    if (k < 0 || k >= found.length) return;
    results.hidden = true; search.blur(); search.value = "";
    location.hash = hrefOf(found[k]);
  }
  search.addEventListener("input", runSearch);
  search.addEventListener("focus", function () { if (search.value) runSearch(); });
  search.addEventListener("blur", function () { setTimeout(function () { results.hidden = true; }, 100); });
  search.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); if (found.length) setActive((active + 1) % found.length); }
    else if (e.key === "ArrowUp") { e.preventDefault(); if (found.length) setActive((active - 1 + found.length) % found.length); }
    else if (e.key === "Enter") { e.preventDefault(); openResult(active < 0 ? 0 : active); }
    else if (e.key === "Escape") { search.value = ""; runSearch(); search.blur(); }
  });
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (e.key === "/") { e.preventDefault(); search.focus(); }
    else if (e.key === "f" && !document.getElementById("view-graph").hidden) mainGraph.fit();
    else if (e.key === "Escape") mainGraph.select(null);
  });

  // ------------------------------------------------------------------ routes
  function route() {
    var parts = location.hash.split("?")[0].replace(/^#\/?/, "").split("/").map(function (p) { try { return decodeURIComponent(p); } catch (e) { return p; } });
    var view = parts[0] || "graph";
    if (view === "asset" && parts[1]) { show("asset"); renderAsset(parts[1], parts[2]); }
    else if (view === "exposure" && parts[1]) { show("exposure"); renderExposure(parts[1]); }
    else if (view === "column" && parts[1] && parts[2]) { show("column"); renderColumn(parts[1], parts.slice(2).join("/")); }
    else if (view === "overview") { show("overview"); renderOverview(); }
    else if (hooks.views[view]) { show(view); hooks.views[view](parts.slice(1)); }
    else if (view === "catalog") { show("catalog"); renderCatalog(); }
    else if (view === "automation") { show("automation"); renderAutomation(); }
    else {
      show("graph");
      var f = parts[1] ? graphIndexOf(parts[1]) : null;
      gstate.focus = f;
      if (f === null) gstate.whole = COUNT <= 400 && !parts[1];
      else gstate.whole = false;
      drawGraphView();
    }
    if (view !== "graph") document.getElementById("app").scrollTop = 0;
    document.body.setAttribute("data-ready", view);
    // the first graph drawn, and painted (the frame after it): what bench/bench_ui.py times
    if (view === "graph" && !firstGraphMarked && window.performance && performance.mark) {
      firstGraphMarked = true;
      performance.mark("orch:graph-drawn");
      requestAnimationFrame(function () { setTimeout(function () { performance.mark("orch:graph-painted"); }, 0); });
    }
  }
  var firstGraphMarked = false;
  window.addEventListener("hashchange", route);
  // what live.js (orch ui) builds on: the helpers, the data, and a way to refresh statuses
  // a workspace's members that did not load: each with its error (file:line), above every view
  function memberErrors(list) {
    var box = document.getElementById("member-errors");
    if (!box) {
      box = el("div", { id: "member-errors", cls: "member-errors", role: "alert" });
      var main = document.getElementById("app");
      main.parentNode.insertBefore(box, main);
    }
    clear(box);
    (list || []).forEach(function (m) {
      box.appendChild(el("div", { cls: "member-error", "data-member": m.member },
        el("strong", { text: m.member + " did not load: " }), el("code", { text: m.error })));
    });
    box.hidden = !(list && list.length);
  }
  memberErrors(D.load_errors);

  window.orchDocs = {
    memberErrors: memberErrors,
    el: el, svg: svg, clear: clear, link: link, badge: badge, statusBadge: statusBadge, checkBadge: checkBadge,
    table: table, codeBlock: codeBlock, fmtTime: fmtTime, fmtDuration: fmtDuration, fmtNum: fmtNum,
    plainValue: plainValue, assetHref: assetHref, assetLink: assetLink, loadAsset: loadAsset, hooks: hooks,
    data: function () { return D; }, route: route, start: route,
    // new statuses from the server: the index's status codes change in place, details reload
    refresh: function (version, rows) {
      dataVersion = String(version);
      for (var k in chunks) delete chunks[k];
      for (k in requested) delete requested[k];
      globalItems = null;
      (rows || []).forEach(function (r) {
        var i = nameIndex.get(r.name);
        if (i === undefined) return;
        N.s[i] = Math.max(0, D.statuses.indexOf(r.status));
        N.c[i] = Math.max(0, D.check_statuses.indexOf(r.check || ""));
      });
    }
  };
  if (!LIVE) route();
})();
