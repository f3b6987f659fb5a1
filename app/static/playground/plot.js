// The loss over gradient steps, as an SVG line chart.

import { sig } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 520;
const H = 220;
const M = { left: 64, right: 16, top: 26, bottom: 38 };

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Draw losses[0] (before any step) to losses[n] (after n steps) into `container`. */
export function drawLossPlot(container, losses) {
  container.replaceChildren();
  const n = losses.length - 1;
  let low = Math.min(...losses);
  let high = Math.max(...losses);
  if (high - low < 1e-12 * Math.max(1, Math.abs(high))) {
    low -= 0.5 * Math.max(Math.abs(low), 1e-9);
    high += 0.5 * Math.max(Math.abs(high), 1e-9);
  }
  const x = (step) => M.left + (n === 0 ? 0.5 : step / n) * (W - M.left - M.right);
  const y = (loss) => M.top + (1 - (loss - low) / (high - low)) * (H - M.top - M.bottom);
  const first = losses[0];
  const last = losses[n];
  const description = n === 0
    ? `Loss ${sig(first, 6)} before any step.`
    : `Loss over ${n} step${n === 1 ? "" : "s"}: from ${sig(first, 6)} to ${sig(last, 6)}, lowest ${sig(Math.min(...losses), 6)}.`;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": description, id: "loss-svg" });
  svg.append(el("title", {}, description));
  svg.append(el("line", { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, class: "axis" }));
  svg.append(el("line", { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, class: "axis" }));
  for (const value of [low, (low + high) / 2, high]) {
    svg.append(el("line", { x1: M.left, y1: y(value), x2: W - M.right, y2: y(value), class: "grid" }));
    svg.append(el("text", { x: M.left - 6, y: y(value) + 4, "text-anchor": "end" }, sig(value)));
  }
  const ticks = n === 0 ? [0] : [...new Set([0, Math.round(n / 2), n])];
  for (const step of ticks) {
    svg.append(el("text", { x: x(step), y: H - M.bottom + 16, "text-anchor": "middle" }, String(step)));
  }
  svg.append(el("text", { x: (M.left + W - M.right) / 2, y: H - 4, "text-anchor": "middle" }, "step"));
  svg.append(el("text", { x: 8, y: 14, "text-anchor": "start" }, "loss"));
  const points = losses.map((loss, step) => `${x(step).toFixed(1)},${y(loss).toFixed(1)}`).join(" ");
  svg.append(el("polyline", { points, class: "curve" }));
  if (losses.length <= 60) {
    losses.forEach((loss, step) => {
      const dot = el("circle", { cx: x(step), cy: y(loss), r: 3, class: "point", "data-step": step, "data-loss": loss });
      dot.append(el("title", {}, `step ${step}: loss ${sig(loss, 7)}`));
      svg.append(dot);
    });
  }
  container.append(svg);
  return description;
}
