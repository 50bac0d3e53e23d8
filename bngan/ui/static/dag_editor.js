// bngan DAG editor: a Streamlit components.v2 frontend drawing the latent structure with vis-network.
//
// Python prepends the vis-network UMD bundle (from the installed pyvis wheel) to this file, so
// `globalThis.vis` exists when this module body runs and nothing is fetched from a CDN.
//
// Data flow:
//   Python -> JS: `data` = {key, k, edges, labels, problems, problem_nodes, weights, latent_stats, ack}.
//   JS -> Python: trigger value "edit" = {k, edges, labels, seq}, a full snapshot after each user edit,
//                 so Python can re-validate and every other widget can follow.
// Streamlit calls the default export again on every rerun with the same parentElement; the editor
// instance (and so the user's node positions and zoom) lives in a WeakMap keyed by that element.

const visLib = globalThis.vis;
const EDITORS = new WeakMap(); // parentElement -> DagEditor
const SAVED_POSITIONS = new Map(); // Python key -> {node: {x, y}}, survives a remount (page switch)
const SAVED_MODES = new Map(); // Python key -> add-edge mode on?, survives a remount like the positions
let editSeq = 0; // module-wide so it keeps increasing across remounts in one page load

const MAX_CODES = 16;
const COLUMN_X = 230; // observed codes at -COLUMN_X, latent codes at +COLUMN_X
const ROW_GAP = 100;

const observed = (i) => `c${i}`;
const latent = (i) => `c${i}'`;
const edgeKey = (parent, child) => `${parent}->${child}`;
const isLatent = (name) => name.endsWith("'");
const codeIndex = (name) => parseInt(name.replace("'", "").slice(1), 10);

function cssVar(element, name, fallback) {
  const host = element instanceof ShadowRoot ? element.host : element;
  const value = getComputedStyle(host).getPropertyValue(name).trim();
  return value || fallback;
}

function defaultPosition(name) {
  // Independent of k, so adding a code pair never moves the nodes the user already sees.
  return { x: isLatent(name) ? COLUMN_X : -COLUMN_X, y: (codeIndex(name) - 1) * ROW_GAP };
}

function fmt(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

class DagEditor {
  constructor(parentElement) {
    this.parent = parentElement;
    this.model = { k: 0, edges: [], labels: {} };
    this.data = {};
    this.key = "dag_editor";
    this.addingEdges = false;
    this.lastEmit = 0;
    this.setTrigger = () => {};
    this.buildDom();
    this.nodes = new visLib.DataSet();
    this.edges = new visLib.DataSet();
    this.network = new visLib.Network(
      this.canvasBox,
      { nodes: this.nodes, edges: this.edges },
      this.networkOptions(),
    );
    this.bindEvents();
  }

  // ---------------------------------------------------------------------------------------- DOM
  buildDom() {
    let root = this.parent.querySelector(".bngan-dag");
    if (!root) {
      root = document.createElement("div");
      root.className = "bngan-dag";
      this.parent.appendChild(root);
    }
    root.innerHTML = `
      <div class="bngan-dag-toolbar" role="toolbar" aria-label="DAG editor">
        <button type="button" data-action="add-edge" aria-pressed="false"
          title="Then drag from a parent node to a child node">➜ Add edge</button>
        <button type="button" data-action="delete" title="Delete the selected edge (or press Delete)">
          ✕ Delete selected</button>
        <span class="bngan-dag-sep"></span>
        <button type="button" data-action="add-code" title="Add a code pair ci, ci' (with the edge ci → ci')">
          + code</button>
        <button type="button" data-action="remove-code" title="Remove the last code pair and its edges">
          − code</button>
        <button type="button" data-action="fit" title="Fit the drawing into view">⤢ Fit</button>
        <span class="bngan-dag-legend">
          <span class="bngan-dot observed"></span> observed (generator inputs)
          <span class="bngan-dot latent"></span> latent (extracted)
          <span class="bngan-dash"></span> problem
        </span>
      </div>
      <div class="bngan-dag-hint" data-role="hint"></div>
      <div class="bngan-dag-canvas" data-testid="bngan-dag-canvas" tabindex="0"></div>`;
    this.root = root;
    this.canvasBox = root.querySelector(".bngan-dag-canvas");
    this.hint = root.querySelector("[data-role=hint]");
    this.addEdgeButton = root.querySelector("[data-action=add-edge]");
  }

  networkOptions() {
    const text = cssVar(this.parent, "--st-text-color", "#31333f");
    // Selection and hover use blue, not the theme's primary colour: red is reserved for problems.
    const primary = cssVar(this.parent, "--st-blue-color", "#1c83e1");
    const font = cssVar(this.parent, "--st-font", "sans-serif");
    this.font = font;
    this.colors = {
      text,
      primary,
      background: cssVar(this.parent, "--st-background-color", "#ffffff"),
      edge: cssVar(this.parent, "--st-gray-color", "#8a8f98"),
      red: cssVar(this.parent, "--st-red-color", "#e0312f"),
      observed: { background: "#dbeafe", border: "#3b82f6" },
      latent: { background: "#fde7cf", border: "#f08c2e" },
    };
    return {
      autoResize: true,
      physics: false,
      layout: { improvedLayout: false, randomSeed: 1 },
      interaction: {
        hover: true,
        zoomView: false, // the page must keep scrolling with the wheel
        dragView: true,
        multiselect: false,
        selectConnectedEdges: false,
        tooltipDelay: 150,
        keyboard: false,
      },
      manipulation: {
        enabled: false, // our own toolbar drives the modes
        addEdge: (edgeData, callback) => this.onEdgeDrawn(edgeData, callback),
      },
      nodes: {
        shape: "box",
        margin: { top: 8, bottom: 8, left: 12, right: 12 },
        widthConstraint: { minimum: 96 },
        heightConstraint: { minimum: 44, valign: "middle" },
        borderWidth: 1.5,
        borderWidthSelected: 3,
        font: { face: font, size: 15, color: "#1f2330" },
        shapeProperties: { borderRadius: 6 },
      },
      edges: {
        arrows: { to: { enabled: true, scaleFactor: 0.8 } },
        color: { color: this.colors.edge, highlight: primary, hover: primary, inherit: false },
        width: 1.6,
        selectionWidth: 2.5,
        hoverWidth: 0.8,
        font: { face: font, size: 12, color: text, strokeWidth: 3, strokeColor: this.colors.background, align: "top" },
      },
    };
  }

  bindEvents() {
    this.root.querySelector(".bngan-dag-toolbar").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const action = button.dataset.action;
      if (action === "add-edge") this.setAddEdgeMode(!this.addingEdges);
      else if (action === "delete") this.deleteSelected();
      else if (action === "add-code") this.changeCodes(+1);
      else if (action === "remove-code") this.changeCodes(-1);
      else if (action === "fit") this.fit();
    });
    this.canvasBox.addEventListener("pointerdown", () => this.canvasBox.focus({ preventScroll: true }));
    // vis-network keeps a tooltip up when the pointer leaves the canvas; hide it (vis shows it again on hover)
    this.canvasBox.addEventListener("pointerleave", () => {
      const tip = this.canvasBox.querySelector(".vis-tooltip");
      if (tip) tip.style.visibility = "hidden";
    });
    this.canvasBox.addEventListener("keydown", (event) => {
      if (event.key === "Delete" || event.key === "Backspace") {
        event.preventDefault();
        this.deleteSelected();
      } else if (event.key === "Escape") {
        this.setAddEdgeMode(false);
      }
    });
    this.network.on("doubleClick", (params) => {
      if (params.nodes.length === 1) this.renameCode(params.nodes[0]);
    });
    this.network.on("dragEnd", () => this.savePositions());
    this.network.on("afterDrawing", (ctx) => {
      this.drawWeightLabels(ctx);
      this.publishPositions();
    });
    this.network.on("select", () => this.showDefaultHint());
  }

  // ------------------------------------------------------------------------------- Python -> JS
  render(data) {
    this.data = data || {};
    this.key = this.data.key || "dag_editor";
    // While an edit is on its way, a rerun started earlier may still answer with the older structure;
    // keep the optimistic drawing then (but never for long, should an edit get lost).
    const pending = editSeq > (this.data.ack ?? 0) && Date.now() - this.lastEmit < 3000;
    if (!pending) {
      // Python has seen every edit we sent: its structure is the truth.
      this.model = {
        k: this.data.k,
        edges: (this.data.edges || []).map(([p, c]) => [String(p), String(c)]),
        labels: { ...(this.data.labels || {}) },
      };
    }
    this.sync();
    this.network.redraw(); // the weight labels are drawn by hand: new weights alone change no DataSet
    if (!this.modeRestored) {
      this.modeRestored = true;
      if (SAVED_MODES.get(this.key)) this.setAddEdgeMode(true);
    }
  }

  sync() {
    const k = this.model.k;
    const kChanged = k !== this.shownK;
    this.syncNodes();
    this.syncEdges();
    this.canvasBox.style.height = `${Math.min(880, Math.max(340, 110 + k * ROW_GAP))}px`;
    if (kChanged) {
      this.shownK = k;
      this.network.setSize("100%", this.canvasBox.style.height);
      this.network.redraw();
      this.fit();
    }
    this.updateButtons();
    this.showDefaultHint();
  }

  nodeNames() {
    const names = [];
    for (let i = 1; i <= this.model.k; i += 1) names.push(observed(i));
    for (let i = 1; i <= this.model.k; i += 1) names.push(latent(i));
    return names;
  }

  syncNodes() {
    const names = this.nodeNames();
    const wanted = new Set(names);
    const saved = SAVED_POSITIONS.get(this.key) || {};
    const badNodes = new Set(this.data.problem_nodes || []);
    const stats = this.data.latent_stats || {};
    const items = names.map((name) => {
      const i = codeIndex(name);
      const label = this.model.labels[String(i)];
      const palette = isLatent(name) ? this.colors.latent : this.colors.observed;
      const bad = badNodes.has(name);
      const item = {
        id: name,
        label: label ? `${name}\n${label}` : name,
        title: this.nodeTitle(name, label, stats[name]),
        color: {
          background: palette.background,
          border: bad ? this.colors.red : palette.border,
          highlight: { background: palette.background, border: this.colors.primary },
          hover: { background: palette.background, border: this.colors.primary },
        },
        borderWidth: bad ? 3 : 1.5,
        shapeProperties: { borderDashes: bad ? [6, 4] : false, borderRadius: isLatent(name) ? 16 : 4 },
      };
      if (!this.nodes.get(name)) Object.assign(item, saved[name] || defaultPosition(name));
      return item;
    });
    const stale = this.nodes.getIds().filter((id) => !wanted.has(id));
    if (stale.length) this.nodes.remove(stale);
    this.nodes.update(items);
  }

  nodeTitle(name, label, stat) {
    const box = document.createElement("div");
    const lines = [
      isLatent(name)
        ? `latent code ${name}: extracted from the image by the discriminator`
        : `observed code ${name}: an N(0, 1) input of the generator`,
    ];
    if (label) lines.push(`label: ${label}`);
    if (stat) lines.push(`σ² (residual variance) = ${fmt(stat.sigma2)}`, `R² (explained) = ${fmt(stat.r2)}`);
    lines.push("double-click to rename");
    box.textContent = lines.join("\n");
    box.style.whiteSpace = "pre";
    return box;
  }

  syncEdges() {
    const names = new Set(this.nodeNames());
    const bad = new Set();
    for (const problem of this.data.problems || []) {
      for (const [p, c] of problem.edges || []) bad.add(edgeKey(p, c));
    }
    const weights = this.data.weights || {};
    const magnitudes = Object.values(weights).map((w) => Math.abs(Number(w)) || 0);
    const maxWeight = Math.max(1e-9, ...magnitudes);
    const items = new Map();
    for (const [p, c] of this.model.edges) {
      const id = edgeKey(p, c);
      if (!names.has(p) || !names.has(c) || items.has(id)) continue; // the table lists those too
      const sameColumn = isLatent(p) === isLatent(c);
      const weight = weights[id];
      const hasWeight = typeof weight === "number" && Number.isFinite(weight);
      const item = {
        id,
        from: p,
        to: c,
        dashes: bad.has(id) ? [8, 6] : false,
        width: hasWeight ? 1 + (6 * Math.abs(weight)) / maxWeight : bad.has(id) ? 2.6 : 1.6,
        title: bad.has(id)
          ? `${p} → ${c}: see the problems listed below the editor`
          : `${p} → ${c}${hasWeight ? `: learned weight ${weight.toFixed(3)}` : ""}`,
        smooth: { enabled: true, type: "curvedCW", roundness: sameColumn ? 0.6 : 0.12 },
        selfReference: { size: 22, angle: Math.PI / 4 },
      };
      if (bad.has(id)) item.color = { color: this.colors.red, highlight: this.colors.red, hover: this.colors.red };
      else item.color = { color: this.colors.edge, highlight: this.colors.primary, hover: this.colors.primary };
      items.set(id, item);
    }
    const stale = this.edges.getIds().filter((id) => !items.has(id));
    if (stale.length) this.edges.remove(stale);
    this.edges.update([...items.values()]);
  }

  // ------------------------------------------------------------------------------- JS -> Python
  emit(next) {
    editSeq += 1;
    this.lastEmit = Date.now();
    this.model = next;
    this.sync(); // optimistic: show the edit at once, Python re-validates and answers
    this.setTrigger("edit", {
      k: next.k,
      edges: next.edges.map(([p, c]) => [p, c]),
      labels: { ...next.labels },
      seq: editSeq,
    });
  }

  onEdgeDrawn(edgeData, callback) {
    callback(null); // the DataSets follow the model; never let vis add the edge itself
    const { from, to } = edgeData;
    if (from === to) {
      this.say("Drag from one node to a different node to add an edge.");
    } else if (this.model.edges.some(([p, c]) => p === from && c === to)) {
      this.say(`The edge ${from} → ${to} already exists.`);
    } else {
      this.emit({ ...this.model, edges: [...this.model.edges, [from, to]] });
    }
    // vis leaves add-edge mode after each edge; stay in it until the user turns it off
    if (this.addingEdges) setTimeout(() => this.addingEdges && this.network.addEdgeMode(), 0);
  }

  deleteSelected() {
    const selected = new Set(this.network.getSelectedEdges());
    if (!selected.size) {
      this.say("Select an edge first (click it), then press Delete.");
      return;
    }
    const edges = this.model.edges.filter(([p, c]) => !selected.has(edgeKey(p, c)));
    this.network.unselectAll();
    this.emit({ ...this.model, edges });
  }

  changeCodes(step) {
    const k = this.model.k + step;
    if (k < 1 || k > MAX_CODES) {
      this.say(`The number of codes must stay between 1 and ${MAX_CODES}.`);
      return;
    }
    let { edges } = this.model;
    const labels = { ...this.model.labels };
    if (step > 0) {
      edges = [...edges, [observed(k), latent(k)]];
    } else {
      const gone = new Set([observed(k + 1), latent(k + 1)]);
      edges = edges.filter(([p, c]) => !gone.has(p) && !gone.has(c));
      delete labels[String(k + 1)];
    }
    this.emit({ k, edges, labels });
  }

  renameCode(name) {
    const i = String(codeIndex(name));
    const current = this.model.labels[i] || "";
    // eslint-disable-next-line no-alert -- a prompt is the simplest accessible rename dialog
    const answer = window.prompt(`Human label for code ${i} (${observed(i)} and ${latent(i)}); empty to clear`,
      current);
    if (answer === null) return;
    const label = answer.trim().slice(0, 40);
    if (label === current) return;
    const labels = { ...this.model.labels };
    if (label) labels[i] = label;
    else delete labels[i];
    this.emit({ ...this.model, labels });
  }

  // ------------------------------------------------------------------------------------ helpers
  setAddEdgeMode(on) {
    this.addingEdges = on;
    SAVED_MODES.set(this.key, on);
    if (on) this.network.addEdgeMode();
    else this.network.disableEditMode();
    this.updateButtons();
    this.showDefaultHint();
  }

  updateButtons() {
    this.addEdgeButton.setAttribute("aria-pressed", String(this.addingEdges));
    this.addEdgeButton.classList.toggle("active", this.addingEdges);
    this.root.querySelector("[data-action=add-code]").disabled = this.model.k >= MAX_CODES;
    this.root.querySelector("[data-action=remove-code]").disabled = this.model.k <= 1;
  }

  showDefaultHint() {
    if (this.sticky && Date.now() < this.sticky) return;
    this.hint.textContent = this.addingEdges
      ? "Add-edge mode: press on a parent node and drag to its child. Esc or the button again to stop."
      : "Click “Add edge”, then drag from a parent to a child. Click an edge and press Delete to remove " +
        "it. Double-click a node to rename it. Drag nodes to rearrange.";
    this.hint.classList.toggle("active", this.addingEdges);
  }

  say(message) {
    this.hint.textContent = message;
    this.sticky = Date.now() + 4000;
  }

  fit() {
    this.network.fit({ animation: false, maxZoomLevel: 1.15 });
  }

  drawWeightLabels(ctx) {
    // vis puts an edge's label at its midpoint, so the labels of crossing edges land on each other. Each
    // weight goes instead to the first point along its edge, from the middle outwards, where its box
    // overlaps no label already placed (edges in a fixed order, so the layout does not jump between draws).
    const weights = this.data.weights || {};
    const placed = [];
    const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    ctx.save();
    ctx.font = `12px ${this.font}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const id of [...this.edges.getIds()].sort()) {
      const weight = weights[id];
      const edgeType = this.network.body?.edges?.[id]?.edgeType;
      if (typeof weight !== "number" || !Number.isFinite(weight) || !edgeType) continue;
      const text = weight !== 0 && Math.abs(weight) < 0.01 ? weight.toPrecision(1) : weight.toFixed(2); // 0.004
      const w = ctx.measureText(text).width + 8;
      const h = 16;
      let box = null;
      for (const t of [0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8]) {
        const p = edgeType.getPoint(t);
        const candidate = { x: p.x - w / 2, y: p.y - h / 2, w, h, cx: p.x, cy: p.y };
        box = box || candidate; // nowhere free: the middle
        if (!placed.some((other) => overlaps(candidate, other))) {
          box = candidate;
          break;
        }
      }
      placed.push(box);
      ctx.fillStyle = this.colors.background;
      ctx.globalAlpha = 0.9;
      ctx.fillRect(box.x, box.y, box.w, box.h);
      ctx.globalAlpha = 1;
      ctx.fillStyle = this.colors.text;
      ctx.fillText(text, box.cx, box.cy);
      box.id = id;
    }
    ctx.restore();
    this.labelBoxes = placed;
  }

  savePositions() {
    SAVED_POSITIONS.set(this.key, this.network.getPositions());
  }

  publishPositions() {
    // For tests and debugging: node centres and edge midpoints in CSS pixels relative to the canvas.
    const positions = this.network.getPositions();
    const dom = {};
    for (const [id, pos] of Object.entries(positions)) {
      const p = this.network.canvasToDOM(pos);
      dom[id] = { x: Math.round(p.x), y: Math.round(p.y) };
    }
    this.canvasBox.dataset.nodePositions = JSON.stringify(dom);
    const mids = {};
    for (const id of this.edges.getIds()) {
      const point = this.network.body?.edges?.[id]?.edgeType?.getPoint?.(0.5); // internal API, tests only
      if (point) {
        const p = this.network.canvasToDOM(point);
        mids[id] = { x: Math.round(p.x), y: Math.round(p.y) };
      }
    }
    this.canvasBox.dataset.edgeMidpoints = JSON.stringify(mids);
    this.canvasBox.dataset.edges = JSON.stringify(this.model.edges);
    const labels = {};
    for (const box of this.labelBoxes || []) {
      const a = this.network.canvasToDOM({ x: box.x, y: box.y });
      const b = this.network.canvasToDOM({ x: box.x + box.w, y: box.y + box.h });
      labels[box.id] = { x: Math.round(a.x), y: Math.round(a.y), w: Math.round(b.x - a.x), h: Math.round(b.y - a.y) };
    }
    this.canvasBox.dataset.edgeLabels = JSON.stringify(labels);
  }

  destroy() {
    this.savePositions();
    this.network.destroy();
  }
}

export default function dagEditor(component) {
  const { data, parentElement, setTriggerValue } = component;
  let editor = EDITORS.get(parentElement);
  if (!editor) {
    editor = new DagEditor(parentElement);
    EDITORS.set(parentElement, editor);
  }
  editor.setTrigger = setTriggerValue; // the latest closure knows the current widget ids
  editor.render(data);
  return () => {
    EDITORS.get(parentElement)?.destroy();
    EDITORS.delete(parentElement);
  };
}
