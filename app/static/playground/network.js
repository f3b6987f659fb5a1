// The network as the page keeps it: a /v1/backprop request, in the layout its conventions say.

/** The weight layout a request is read in: its own weight_layout, else its preset's. */
export function layoutOf(request) {
  if (request.weight_layout) return request.weight_layout;
  return request.conventions === "pytorch" ? "out_in" : "in_out";
}

/** A per-sample array as rows: one flat sample [n] becomes [[...n]]. */
export function asRows(values) {
  return Array.isArray(values[0]) ? values : [values];
}

/** w_jk, the weight from unit j below to unit k, whatever the layout. */
export function weightAt(matrix, layout, j, k) {
  return layout === "in_out" ? matrix[j][k] : matrix[k][j];
}

export function transpose(matrix) {
  return matrix[0].map((_, k) => matrix.map((row) => row[k]));
}

/** n_0, n_1, ..., n_L: the inputs' width, then each layer's number of biases. */
export function sizesOf(request) {
  const inputs = asRows(request.inputs);
  return [inputs[0].length, ...request.network.layers.map((layer) => layer.biases.length)];
}

export function copy(value) {
  return JSON.parse(JSON.stringify(value));
}

/** The same network with every weight and bias replaced by its update from an answer. */
export function withUpdate(request, answer) {
  const next = copy(request);
  next.network.layers.forEach((layer, i) => {
    layer.weights = answer.layers[i].updated_weights;
    layer.biases = answer.layers[i].updated_biases;
  });
  return next;
}

/** The same network under another preset: weights transposed when the layout changes. */
export function withPreset(request, preset) {
  const next = copy(request);
  const before = layoutOf(next);
  if (preset === "textbook") delete next.conventions;
  else next.conventions = preset;
  if (layoutOf(next) !== before) {
    next.network.layers.forEach((layer) => {
      layer.weights = transpose(layer.weights);
    });
  }
  return next;
}

// A small deterministic generator, so that "Apply sizes" gives the same new weights each time.
function drawn(...coordinates) {
  let h = 2166136261;
  for (const c of coordinates) {
    h = Math.imul(h ^ (c + 0x9e3779b9), 16777619) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
  }
  return Math.round(((h / 4294967295) * 2 - 1) * 10) / 10; // in [-1, 1], one decimal
}

/** The request resized to n_0, ..., n_L: entries kept where they fit, new ones drawn. */
export function resized(request, sizes, defaultActivation = "sigmoid") {
  const next = copy(request);
  const layout = layoutOf(next);
  const old = next.network.layers;
  next.network.layers = sizes.slice(1).map((nOut, i) => {
    const nIn = sizes[i];
    const previous = old[i];
    const weights = [];
    for (let j = 0; j < nIn; j += 1) {
      const row = [];
      for (let k = 0; k < nOut; k += 1) {
        let kept;
        if (previous) {
          const W = previous.weights;
          kept = layout === "in_out" ? W[j]?.[k] : W[k]?.[j];
        }
        row.push(kept ?? drawn(i, j, k));
      }
      weights.push(row);
    }
    const biases = Array.from({ length: nOut }, (_, k) => previous?.biases[k] ?? drawn(i, -1, k));
    let activation = previous?.activation ?? defaultActivation;
    return { weights: layout === "in_out" ? weights : transpose(weights), biases, activation };
  });
  next.network.layers.forEach((layer, i) => {
    const name = typeof layer.activation === "string" ? layer.activation : layer.activation.name;
    if (name === "softmax" && i !== next.network.layers.length - 1) layer.activation = "sigmoid";
  });
  const flat = !Array.isArray(next.inputs[0]);
  const inputs = asRows(next.inputs).map((row, s) =>
    Array.from({ length: sizes[0] }, (_, j) => row[j] ?? drawn(-2, s, j)),
  );
  next.inputs = flat ? inputs[0] : inputs;
  const nOut = sizes[sizes.length - 1];
  const targets = next.targets;
  if (Array.isArray(targets) && Array.isArray(targets[0])) {
    next.targets = targets.map((row) => Array.from({ length: nOut }, (_, k) => row[k] ?? 0));
  } else if (Array.isArray(targets) && flat) {
    next.targets = Array.from({ length: nOut }, (_, k) => targets[k] ?? 0);
  }
  return next;
}
