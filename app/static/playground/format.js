// Numbers as the diagram shows them: 4 significant figures, never fewer.

export const FIGURES = 4;

/** x to 4 significant figures: 0.6456563 -> "0.6457", -0.00771 -> "-0.007710", 1.2 -> "1.200". */
export function sig(x, figures = FIGURES) {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  const magnitude = Math.abs(x);
  if (magnitude >= 1e-4 && magnitude < 1e6) return x.toPrecision(figures);
  return x.toExponential(figures - 1);
}

/** The loss, with enough figures to see a step change it. */
export function lossText(x) {
  return sig(x, 7);
}

/** Subscripted unit names as the textbook writes them: layer 2, unit 1 -> "2,1". */
export function unitName(layer, unit) {
  return `${layer},${unit + 1}`;
}
