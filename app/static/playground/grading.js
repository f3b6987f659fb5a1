// A grading report (POST /v1/grade, native format) turned into marks on the diagram.
//
// The report says which items failed and why (the mistake named); it gives one worst entry per
// item, not every wrong one. The entries to mark are found the way the grader compares them:
// |submitted - expected| > atol + rtol |expected|, against the answer of /v1/backprop for the
// same problem, with the tolerance sent to /v1/grade.

import { asRows, layoutOf } from "./network.js";

export const TOLERANCE = { rtol: 0.01, atol: 0.0001 };

const PER_SAMPLE = new Set(["pre_activations", "activations", "deltas", "outputs"]);
const WEIGHTS = new Set(["weight_gradients", "updated_weights"]);
const LAYER_QUANTITIES = [
  "pre_activations", "activations", "deltas", "weight_gradients",
  "bias_gradients", "updated_weights", "updated_biases",
];

/** What an answer gives: "loss", "outputs", and each layer quantity answered in some layer. */
export function quantitiesOf(submission) {
  const found = [];
  if (submission.loss !== undefined) found.push("loss");
  if (submission.outputs !== undefined) found.push("outputs");
  for (const q of LAYER_QUANTITIES) {
    if ((submission.layers || []).some((layer) => layer && layer[q] !== undefined)) found.push(q);
  }
  return found;
}

/** "layers[1].deltas" -> {layer: 1, quantity: "deltas"}; "loss" -> {layer: null, quantity: "loss"}. */
export function parseItemId(id) {
  const m = /^layers\[(\d+)\]\.(\w+)$/.exec(id);
  return m ? { layer: Number(m[1]), quantity: m[2] } : { layer: null, quantity: id };
}

function flatten(value) {
  return Array.isArray(value) ? value.flatMap(flatten) : [value];
}

function valueOf(source, layer, quantity) {
  if (source === undefined || source === null) return undefined;
  if (layer === null) return source[quantity];
  return source.layers?.[layer]?.[quantity];
}

/** The diagram key of entry `flat` of an answer's array: "q|layer|s,k", "q|layer|j,k", "q|layer|k". */
function keysOf(quantity, layer, expected, layout) {
  if (quantity === "loss") return ["loss||"];
  if (PER_SAMPLE.has(quantity)) {
    return asRows(expected).flatMap((row, s) => row.map((_, k) => `${quantity}|${layer}|${s},${k}`));
  }
  if (WEIGHTS.has(quantity)) {
    return expected.flatMap((row, r) =>
      row.map((_, c) => `${quantity}|${layer}|${layout === "in_out" ? `${r},${c}` : `${c},${r}`}`),
    );
  }
  return expected.map((_, k) => `${quantity}|${layer}|${k}`);
}

/**
 * Marks for the diagram.
 *
 * entries: Map from an entry's key to {submitted, expected} for each entry marked wrong;
 * notes: the failed items, each with its layer (null for loss and outputs), its name, and the
 * mistakes the grader named.
 */
export function marksOf(report, answer, submission, request) {
  const layout = layoutOf(request);
  const lastLayer = answer.layers.length - 1;
  const entries = new Map();
  const notes = [];
  for (const item of report.items) {
    if (item.status === "passed") continue;
    const { layer, quantity } = parseItemId(item.id);
    notes.push({ layer, quantity, name: item.name, mistakes: item.mistakes || [], status: item.status });
    const expected = valueOf(answer, layer, quantity);
    if (expected === undefined || item.status === "missing") continue; // noted, nothing to mark
    // outputs are the last layer's activations: marked there
    const [q, l] = quantity === "outputs" ? ["activations", lastLayer] : [quantity, layer];
    const keys = keysOf(q, l, expected, layout);
    const want = flatten(expected);
    const got = flatten(valueOf(submission, layer, quantity) ?? []);
    let marked = 0;
    if (got.length === want.length) {
      want.forEach((e, i) => {
        const s = got[i];
        if (!(typeof s === "number" && Math.abs(s - e) <= TOLERANCE.atol + TOLERANCE.rtol * Math.abs(e))) {
          entries.set(keys[i], { submitted: s, expected: e, item: item.name });
          marked += 1;
        }
      });
    }
    if (marked === 0) {
      // a wrong shape, or nothing given: every entry of the item is wrong
      want.forEach((e, i) => entries.set(keys[i], { submitted: undefined, expected: e, item: item.name }));
    }
  }
  return { entries, notes };
}

/** A mistake's name, short enough for the diagram: its description up to the first colon. */
export function shortMistake(description) {
  return description.split(":")[0];
}
