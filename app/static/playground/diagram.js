// The network as an SVG: a box per unit with its z, a and delta, a line per weight whose colour
// is the weight and whose width is |dL/dw|. Every value is an entry: focusable (one tab stop,
// arrow keys move between entries), labelled for screen readers, and selectable to show its
// worked formula.

import { sig } from "./format.js";
import { asRows, layoutOf, weightAt } from "./network.js";

const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 150;
const LINE = 16;
const COLUMN = 270; // from one column's left edge to the next
const GAP = 22; // between boxes of a column
const TOP = 48;
export const MAX_UNITS = 16;
export const MAX_LAYERS = 8;

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function activationName(spec) {
  return typeof spec === "string" ? spec : spec.name;
}

function wrapWords(text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && (line + " " + word).length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Draw the diagram into `container`.
 *
 * request: the /v1/backprop request; answer: its answer; sample: the sample shown (0-based);
 * marks: {entries: Map(key -> {submitted, expected}), notes: [...]} from grading, or null;
 * onSelect(entry, pinned): called when an entry is hovered (pinned false) or chosen (true),
 * and with null when the pointer leaves. Returns the entries in keyboard order.
 */
export function drawDiagram(container, { request, answer, sample, marks, onSelect }) {
  container.replaceChildren();
  const layout = layoutOf(request);
  const inputs = asRows(request.inputs);
  const targets = request.targets;
  const sizes = [inputs[0].length, ...answer.layers.map((layer) => asRows(layer.activations)[0].length)];
  const L = answer.layers.length;
  if (Math.max(...sizes) > MAX_UNITS || L > MAX_LAYERS) {
    const p = document.createElement("p");
    p.className = "help";
    p.textContent = `The diagram draws networks of at most ${MAX_LAYERS} layers of at most ${MAX_UNITS} units; this one has ${sizes.join("-")}. The tables below hold every value.`;
    container.append(p);
    return [];
  }
  const wrong = marks ? marks.entries : new Map();
  const notes = marks ? marks.notes : [];
  const boxHeight = (l) => (l === 0 ? 2 : 4) * LINE + 12;
  const columnHeight = (l) => sizes[l] * (boxHeight(l) + GAP) - GAP;
  const tallest = Math.max(...sizes.map((_, l) => columnHeight(l)));
  const noteLines = new Map();
  for (const note of notes) {
    const column = note.layer === null ? L : note.layer + 1;
    const mistake = note.mistakes.length ? note.mistakes.map((m) => m.description.split(":")[0]).join("; ") : note.status === "missing" ? "missing" : "no classic mistake reproduces it";
    const lines = [`✗ ${note.name}:`, ...wrapWords(mistake, 46)];
    noteLines.set(column, [...(noteLines.get(column) || []), ...lines]);
  }
  const notesHeight = Math.max(0, ...[...noteLines.values()].map((lines) => lines.length)) * 15;
  const width = 30 + L * COLUMN + BOX_W + 130;
  const height = TOP + tallest + 24 + notesHeight + 10;
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "group",
    "aria-labelledby": "diagram-heading",
    "aria-describedby": "diagram-help",
    id: "network-svg",
  });
  svg.append(el("title", {}, `Network ${sizes.join("-")}, sample ${sample + 1}`));
  const x0 = (l) => 30 + l * COLUMN;
  const yCentre = (l, unit) => {
    const h = boxHeight(l);
    const top = TOP + (tallest - columnHeight(l)) / 2 + unit * (h + GAP);
    return { top, centre: top + h / 2 };
  };
  const entries = [];
  const row = (values) => asRows(values)[Math.min(sample, asRows(values).length - 1)];

  // Column labels
  for (let l = 0; l <= L; l += 1) {
    const what = l === 0 ? "inputs x" : `layer ${l}: ${activationName(request.network.layers[l - 1].activation)}${l === L ? " (outputs)" : ""}`;
    svg.append(el("text", { x: x0(l), y: 20, class: "layer-label" }, what));
  }

  // Connections, drawn first so that the boxes lie on top
  const maxWeight = Math.max(1e-12, ...request.network.layers.flatMap((layer) => layer.weights.flat().map(Math.abs)));
  const maxGradient = Math.max(1e-12, ...answer.layers.flatMap((layer) => layer.weight_gradients.flat().map(Math.abs)));
  const edgeGroups = [];
  for (let l = 1; l <= L; l += 1) {
    const group = el("g", { class: "edges" });
    const W = request.network.layers[l - 1].weights;
    const G = answer.layers[l - 1].weight_gradients;
    const U = answer.layers[l - 1].updated_weights;
    const list = [];
    for (let j = 0; j < sizes[l - 1]; j += 1) {
      for (let k = 0; k < sizes[l]; k += 1) {
        const w = weightAt(W, layout, j, k);
        const g = weightAt(G, layout, j, k);
        const from = { x: x0(l - 1) + BOX_W, y: yCentre(l - 1, j).centre };
        const to = { x: x0(l), y: yCentre(l, k).centre };
        const keyIndex = `${j},${k}`;
        const marked = wrong.get(`weight_gradients|${l - 1}|${keyIndex}`) || wrong.get(`updated_weights|${l - 1}|${keyIndex}`);
        const name = `w^${l}_(${j + 1},${k + 1})`;
        const label = `weight ${name} from ${l === 1 ? "input" : `layer ${l - 1} unit`} ${j + 1} to layer ${l} unit ${k + 1}: w = ${sig(w)}, dL/dw = ${sig(g)}, updated ${sig(weightAt(U, layout, j, k))}${marked ? `; marked wrong (${marked.item})` : ""}`;
        const edge = el("g", {
          class: `edge ${w >= 0 ? "positive" : "negative"}${marked ? " wrong" : ""}`,
          tabindex: -1,
          role: "button",
          "aria-label": label,
          "data-quantity": "weight_gradients",
          "data-layer": l - 1,
          "data-index": layout === "in_out" ? `${j},${k}` : `${k},${j}`,
          "data-weight": w,
          "data-value": g,
          ...(marked ? { "data-status": "wrong" } : {}),
        });
        const d = `M ${from.x} ${from.y} L ${to.x} ${to.y}`;
        edge.append(el("title", {}, label));
        edge.append(el("path", { d, class: "hit" }));
        edge.append(el("path", {
          d,
          class: "line",
          "stroke-width": (1 + 7 * Math.abs(g) / maxGradient).toFixed(2),
          "stroke-opacity": (0.3 + 0.7 * Math.abs(w) / maxWeight).toFixed(2),
        }));
        if (marked) {
          const t = 0.6;
          edge.append(el("text", { x: from.x + t * (to.x - from.x), y: from.y + t * (to.y - from.y) - 4, class: "edge-mark" }, "✗"));
        }
        group.append(edge);
        list.push({
          el: edge,
          name,
          layer: l - 1,
          quantities: ["weight_gradients", "updated_weights"],
          index: layout === "in_out" ? [j, k] : [k, j],
          value: g,
          label,
          marked,
        });
      }
    }
    edgeGroups.push(list);
    svg.append(group);
  }

  // Units
  const perSample = (unit) => (Array.isArray(answer.outputs[0]) ? [sample, unit] : [unit]);
  for (let l = 0; l <= L; l += 1) {
    if (l >= 1) entries.push(...edgeGroups[l - 1]);
    for (let unit = 0; unit < sizes[l]; unit += 1) {
      const { top } = yCentre(l, unit);
      const g = el("g", { class: "unit", "data-layer": l, "data-unit": unit });
      const box = el("rect", { x: x0(l), y: top, width: BOX_W, height: boxHeight(l), rx: 7, class: "unit-box" });
      g.append(box);
      const lines = [];
      if (l === 0) {
        const x = row(request.inputs)[unit];
        const dx = row(answer.input_gradients)[unit];
        lines.push({ symbol: "x", quantity: "inputs", value: x, words: "input x", name: `x_${unit + 1}`, index: [unit] });
        lines.push({ symbol: "∂x", quantity: "input_gradients", value: dx, words: "dL/dx", name: `dL/dx_${unit + 1}`, index: [unit] });
      } else {
        const layer = answer.layers[l - 1];
        const i = l - 1;
        lines.push({ symbol: "z", quantity: "pre_activations", value: row(layer.pre_activations)[unit], words: "pre-activation z", name: `z^${l}_${unit + 1}` });
        lines.push({ symbol: "a", quantity: "activations", value: row(layer.activations)[unit], words: l === L ? "activation a (output)" : "activation a", name: `a^${l}_${unit + 1}` });
        lines.push({ symbol: "δ", quantity: "deltas", value: row(layer.deltas)[unit], words: "delta dL/dz", name: `delta^${l}_${unit + 1}` });
        lines.push({ symbol: "∂b", quantity: "bias_gradients", value: layer.bias_gradients[unit], words: "bias gradient dL/db", name: `dL/db^${l}_${unit + 1}` });
        for (const line of lines) {
          line.marked = wrong.get(`${line.quantity}|${i}|${line.quantity === "bias_gradients" ? unit : `${sample},${unit}`}`) ||
            (line.quantity === "bias_gradients" ? wrong.get(`updated_biases|${i}|${unit}`) : undefined);
          line.index = line.quantity === "bias_gradients" ? [unit] : perSample(unit);
        }
      }
      let anyWrong = false;
      lines.forEach((line, n) => {
        const text = `${line.symbol} ${sig(line.value)}${line.marked ? " ✗" : ""}`;
        const label = `${l === 0 ? "input" : `layer ${l}`} unit ${unit + 1}, ${line.words} ${line.name} = ${sig(line.value)}${line.marked ? `; marked wrong: the answer has ${line.marked.submitted === undefined ? "no value" : sig(line.marked.submitted)} (${line.marked.item})` : ""}`;
        const t = el("text", {
          x: x0(l) + 10,
          y: top + 6 + LINE * (n + 1) - 2,
          class: `entry${line.marked ? " wrong" : ""}`,
          tabindex: -1,
          role: "button",
          "aria-label": label,
          "data-quantity": line.quantity,
          "data-layer": l === 0 ? "" : l - 1,
          "data-unit": unit,
          "data-value": line.value,
          ...(line.marked ? { "data-status": "wrong" } : {}),
        }, text);
        anyWrong ||= Boolean(line.marked);
        g.append(t);
        entries.push({
          el: t,
          name: line.name,
          layer: l === 0 ? null : l - 1,
          quantities: line.quantity === "bias_gradients" ? ["bias_gradients", "updated_biases"] : [line.quantity],
          index: line.index,
          value: line.value,
          label,
          marked: line.marked,
        });
      });
      if (anyWrong) box.classList.add("wrong");
      if (l === L && targets !== undefined) {
        const t = targetOf(targets, sample, unit, !Array.isArray(request.inputs[0]));
        if (t !== undefined) g.append(el("text", { x: x0(l) + BOX_W + 8, y: top + 6 + LINE * 2 - 2, class: "target-note" }, `t ${sig(t)}`));
      }
      svg.append(g);
    }
  }

  // The named mistakes, under the columns they concern
  for (const [column, lines] of noteLines) {
    lines.forEach((line, n) => {
      svg.append(el("text", { x: x0(column), y: TOP + tallest + 26 + n * 15, class: "mistake-note" }, line));
    });
  }

  // One tab stop; the arrow keys move, Enter and Space choose
  let current = 0;
  const focusEntry = (n) => {
    entries[current].el.setAttribute("tabindex", "-1");
    current = (n + entries.length) % entries.length;
    entries[current].el.setAttribute("tabindex", "0");
    entries[current].el.focus();
  };
  if (entries.length) entries[0].el.setAttribute("tabindex", "0");
  entries.forEach((entry, n) => {
    entry.el.addEventListener("focus", () => {
      entries[current].el.setAttribute("tabindex", "-1");
      current = n;
      entry.el.setAttribute("tabindex", "0");
      onSelect(entry, true);
    });
    entry.el.addEventListener("click", () => focusEntry(n));
    entry.el.addEventListener("mouseenter", () => onSelect(entry, false));
    entry.el.addEventListener("mouseleave", () => onSelect(null, false));
  });
  svg.addEventListener("keydown", (event) => {
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves) focusEntry(current + moves[event.key]);
    else if (event.key === "Home") focusEntry(0);
    else if (event.key === "End") focusEntry(entries.length - 1);
    else if (event.key === "Enter" || event.key === " ") onSelect(entries[current], true);
    else return;
    event.preventDefault();
  });
  container.append(svg);
  return entries;
}

/** The target of output unit k for a sample: from rows, a flat sample's row, or class indices. */
export function targetOf(targets, sample, unit, flatSample) {
  if (typeof targets === "number") return unit === targets ? 1 : 0;
  if (!Array.isArray(targets)) return undefined;
  if (Array.isArray(targets[0])) return targets[Math.min(sample, targets.length - 1)][unit];
  if (flatSample) return targets[unit];
  return unit === targets[sample] ? 1 : 0;
}
