// The playground: the network's form, the diagram, gradient steps and grading, wired together.

import { ApiError, get, post } from "./api.js";
import { drawDiagram } from "./diagram.js";
import { lossText, sig } from "./format.js";
import { marksOf, quantitiesOf, TOLERANCE } from "./grading.js";
import { asRows, copy, layoutOf, resized, sizesOf, weightAt, withPreset, withUpdate } from "./network.js";
import { drawLossPlot } from "./plot.js";

const $ = (id) => document.getElementById(id);
const MAX_STEPS = 500;

const state = {
  activations: [], // GET /v1/activations
  losses: [], // GET /v1/losses
  request: null, // the problem on the diagram, a /v1/backprop request
  answer: null, // its answer, with the worked formulas when the network is small enough
  start: null, // the request before any step, for Reset
  history: [], // the loss before each step: history[n] after n steps
  sample: 0,
  marks: null, // from grading, or null
  pinned: null, // the entry whose formula stays shown
  entries: [],
};

// Messages ----------------------------------------------------------------------------------------

function showError(error) {
  $("errors").textContent = error instanceof ApiError || error instanceof SyntaxError || error instanceof UserError
    ? error.message
    : `Something went wrong: ${error.message}`;
}

class UserError extends Error {}

function clearError() {
  $("errors").textContent = "";
}

function status(text) {
  $("status").textContent = text;
}

async function busy(work) {
  const buttons = [...document.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  document.body.setAttribute("aria-busy", "true");
  try {
    clearError();
    await work();
  } catch (error) {
    showError(error);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    document.body.removeAttribute("aria-busy");
  }
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${what} is not valid JSON: ${error.message}`);
  }
}

// Computing ---------------------------------------------------------------------------------------

/** POST /v1/backprop, with the worked formulas unless the network is too large for them. */
async function backprop(request, explain = true) {
  if (!explain) return post("v1/backprop", request);
  try {
    return await post("v1/backprop", { ...request, explain: true, explain_sample: state.sample });
  } catch (error) {
    if (error instanceof ApiError && error.detail.some((d) => d.type === "too_large_to_explain")) {
      return post("v1/backprop", request);
    }
    throw error;
  }
}

/** Show a new problem: compute it, start the loss history afresh, forget marks. */
async function load(request) {
  const samples = asRows(request.inputs).length;
  if (state.sample >= samples) state.sample = 0;
  const answer = await backprop(request);
  state.request = request;
  state.start = copy(request);
  state.answer = answer;
  state.history = [answer.loss];
  state.marks = null;
  state.pinned = null;
  $("report").replaceChildren();
  fillForm(request);
  render();
  status(`computed: loss ${lossText(answer.loss)}`);
}

async function steps(n) {
  for (let i = 0; i < n; i += 1) {
    const next = withUpdate(state.request, state.answer);
    const answer = await backprop(next, i === n - 1);
    state.request = next;
    state.answer = answer;
    state.history.push(answer.loss);
  }
  state.marks = null;
  $("report").replaceChildren();
  render();
  const direction = state.request.ascent ? "ascent" : "descent";
  status(`${n} ${direction} step${n === 1 ? "" : "s"}: loss ${lossText(state.answer.loss)}`);
}

// The form ----------------------------------------------------------------------------------------

function specName(spec) {
  return typeof spec === "string" ? spec : spec.name;
}

function option(value, text, selected) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
}

function labelled(id, text, control) {
  const wrap = document.createElement("div");
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = text;
  control.id = id;
  wrap.append(label, control);
  return wrap;
}

function activationParameters(l, name, spec) {
  const box = $(`activation-${l}-parameters`);
  box.replaceChildren();
  const info = state.activations.find((a) => a.name === name);
  for (const p of info?.parameters || []) {
    const current = typeof spec === "object" && spec.name === name && p.name in spec ? spec[p.name] : p.default;
    const input = document.createElement("input");
    if (typeof p.default === "number") {
      input.type = "number";
      input.step = "any";
    }
    input.value = String(current);
    input.dataset.parameter = p.name;
    input.dataset.kind = typeof p.default;
    input.setAttribute("aria-description", p.description);
    box.append(labelled(`activation-${l}-${p.name}`, `${p.name} (default ${p.default})`, input));
  }
}

function fillLayers(request) {
  const sizes = sizesOf(request);
  const box = $("layers");
  box.replaceChildren();
  request.network.layers.forEach((layer, i) => {
    const l = i + 1;
    const fieldset = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = `Layer ${l} (${sizes[l]} unit${sizes[l] === 1 ? "" : "s"}${l === sizes.length - 1 ? ", outputs" : ""})`;
    const select = document.createElement("select");
    for (const a of state.activations) {
      if (a.last_layer_only && l !== sizes.length - 1) continue;
      select.append(option(a.name, a.name, a.name === specName(layer.activation)));
    }
    const parameters = document.createElement("div");
    parameters.className = "parameters";
    parameters.id = `activation-${l}-parameters`;
    fieldset.append(legend, labelled(`activation-${l}`, `Activation of layer ${l}`, select), parameters);
    box.append(fieldset);
    activationParameters(l, specName(layer.activation), layer.activation);
    select.addEventListener("change", () => activationParameters(l, select.value, select.value));
  });
}

function fillLossParameters(spec) {
  const box = $("loss-parameters");
  box.replaceChildren();
  const name = $("loss").value;
  const info = state.losses.find((x) => x.name === name);
  const preset = $("preset").value;
  for (const p of info?.parameters || []) {
    const fallback = p.defaults[preset];
    const current = typeof spec === "object" && spec.name === name && p.name in spec ? spec[p.name] : undefined;
    let control;
    if (typeof fallback === "number") {
      control = document.createElement("input");
      control.type = "number";
      control.step = "any";
      control.placeholder = String(fallback);
      control.value = current === undefined ? "" : String(current);
    } else {
      control = document.createElement("select");
      const choices = p.name === "reduction" ? info.reductions : ["true", "false"];
      control.append(option("", `${preset} default (${fallback})`, current === undefined));
      for (const c of choices) control.append(option(c, c, String(current) === c));
    }
    control.dataset.parameter = p.name;
    control.dataset.kind = typeof fallback;
    control.setAttribute("aria-description", p.description);
    box.append(labelled(`loss-${p.name}`, p.name, control));
  }
}

function fillForm(request) {
  $("sizes").value = sizesOf(request).join("-");
  fillLayers(request);
  const loss = request.loss ?? "mse";
  $("loss").replaceChildren(...state.losses.map((x) => option(x.name, x.name, x.name === specName(loss))));
  $("preset").value = request.conventions ?? "textbook";
  fillLossParameters(loss);
  $("learning-rate").value = String(request.learning_rate);
  $("inputs").value = JSON.stringify(request.inputs);
  $("targets").value = JSON.stringify(request.targets);
}

function parameterValue(control) {
  const raw = control.value.trim();
  if (raw === "") return undefined;
  if (control.dataset.kind === "number") {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new UserError(`${control.id}: "${raw}" is not a number`);
    return value;
  }
  if (control.dataset.kind === "boolean") return raw === "true";
  return raw;
}

function specFrom(name, box, defaults = {}) {
  const spec = { name };
  for (const control of box.querySelectorAll("[data-parameter]")) {
    const value = parameterValue(control);
    if (value !== undefined && value !== defaults[control.dataset.parameter]) spec[control.dataset.parameter] = value;
  }
  return Object.keys(spec).length === 1 ? name : spec;
}

function activationSpecs(count) {
  return Array.from({ length: count }, (_, i) => {
    const l = i + 1;
    const name = $(`activation-${l}`)?.value ?? "sigmoid";
    const info = state.activations.find((a) => a.name === name);
    const defaults = Object.fromEntries((info?.parameters || []).map((p) => [p.name, p.default]));
    const box = $(`activation-${l}-parameters`);
    return box ? specFrom(name, box, defaults) : name;
  });
}

function parseSizes() {
  const sizes = $("sizes").value.split(/[^0-9]+/).filter(Boolean).map(Number);
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UserError("Layer sizes: give at least two whole numbers of 1 or more, inputs first, e.g. 2-3-2");
  }
  return sizes;
}

/** The request the form describes, from the current network. */
function requestFromForm() {
  let request = withPreset(state.request, $("preset").value);
  const sizes = parseSizes();
  const activations = activationSpecs(sizes.length - 1);
  if (sizes.join() !== sizesOf(request).join()) request = resized(request, sizes);
  request.network.layers.forEach((layer, i) => {
    layer.activation = activations[i];
  });
  request.loss = specFrom($("loss").value, $("loss-parameters"));
  const rate = Number($("learning-rate").value);
  if ($("learning-rate").value.trim() === "" || !Number.isFinite(rate)) throw new UserError("Learning rate: give a number");
  request.learning_rate = rate;
  request.inputs = parseJson($("inputs").value, "Inputs");
  request.targets = parseJson($("targets").value, "Targets");
  return request;
}

// Drawing -----------------------------------------------------------------------------------------

function explanationFor(quantity, layer, index) {
  const layers = state.answer.explanation?.layers;
  const found = layers?.[layer]?.[quantity]?.find((e) => e.index.join() === index.join());
  return found?.text;
}

function showFormula(entry, pinned) {
  if (pinned) {
    state.pinned = entry;
    state.entries.forEach((e) => e.el.classList.toggle("selected", e === entry));
  }
  const shown = entry ?? state.pinned;
  if (!shown) {
    $("formula-what").textContent = "Select a value on the diagram.";
    $("formula-text").textContent = "";
    return;
  }
  $("formula-what").textContent = shown.label;
  const lines = [];
  if (shown.layer === null) {
    const j = shown.index.at(-1) + 1;
    const [quantity] = shown.quantities;
    lines.push(quantity === "inputs"
      ? `x_${j} = ${shown.value} (input ${j} of sample ${state.sample + 1})`
      : `dL/dx_${j} = sum over k of w^1_(${j},k) delta^1_k = ${sig(shown.value)}`);
  } else {
    for (const quantity of shown.quantities) {
      const text = explanationFor(quantity, shown.layer, shown.index);
      if (text) lines.push(text);
    }
    if (!lines.length) lines.push(`${shown.name} = ${shown.value} (no worked formula: the network is too large to explain)`);
  }
  const mark = shown.marked;
  if (mark) {
    lines.push(`Marked wrong (${mark.item}): the answer has ${mark.submitted === undefined ? "no value here" : mark.submitted}, expected ${sig(mark.expected)}`);
  }
  $("formula-text").textContent = lines.join("\n");
}

function cell(tag, text, wrong) {
  const c = document.createElement(tag);
  c.textContent = text;
  if (wrong) c.className = "wrong";
  return c;
}

function table(caption, head, rows) {
  const t = document.createElement("table");
  const cap = document.createElement("caption");
  cap.textContent = caption;
  const thead = document.createElement("thead");
  const tr = document.createElement("tr");
  head.forEach((h) => {
    const th = cell("th", h);
    th.scope = "col";
    tr.append(th);
  });
  thead.append(tr);
  const tbody = document.createElement("tbody");
  rows.forEach((r) => {
    const row = document.createElement("tr");
    r.forEach(([text, wrong], n) => {
      const c = cell(n === 0 ? "th" : "td", text, wrong);
      if (n === 0) c.scope = "row";
      row.append(c);
    });
    tbody.append(row);
  });
  t.append(cap, thead, tbody);
  return t;
}

function drawTables() {
  const { request, answer, sample } = state;
  const layout = layoutOf(request);
  const wrong = state.marks ? state.marks.entries : new Map();
  const show = (value, key) => [`${sig(value)}${wrong.has(key) ? " ✗" : ""}`, wrong.has(key)];
  const parts = [];
  answer.layers.forEach((layer, i) => {
    const pick = (values) => asRows(values)[Math.min(sample, asRows(values).length - 1)];
    const units = pick(layer.activations).map((_, k) => [
      [`${k + 1}`],
      show(pick(layer.pre_activations)[k], `pre_activations|${i}|${sample},${k}`),
      show(pick(layer.activations)[k], `activations|${i}|${sample},${k}`),
      show(pick(layer.deltas)[k], `deltas|${i}|${sample},${k}`),
      show(request.network.layers[i].biases[k], ""),
      show(layer.bias_gradients[k], `bias_gradients|${i}|${k}`),
      show(layer.updated_biases[k], `updated_biases|${i}|${k}`),
    ]);
    parts.push(table(`Layer ${i + 1}, sample ${sample + 1}: each unit`, ["unit", "z", "a", "delta", "b", "dL/db", "b updated"], units));
    const W = request.network.layers[i].weights;
    const rows = [];
    const nIn = layout === "in_out" ? W.length : W[0].length;
    const nOut = layout === "in_out" ? W[0].length : W.length;
    for (let j = 0; j < nIn; j += 1) {
      for (let k = 0; k < nOut; k += 1) {
        const key = `${j},${k}`;
        rows.push([
          [`w(${j + 1},${k + 1})`],
          show(weightAt(W, layout, j, k), ""),
          show(weightAt(layer.weight_gradients, layout, j, k), `weight_gradients|${i}|${key}`),
          show(weightAt(layer.updated_weights, layout, j, k), `updated_weights|${i}|${key}`),
        ]);
      }
    }
    parts.push(table(`Layer ${i + 1}: each weight, from unit j below to unit k`, ["w(j,k)", "w", "dL/dw", "w updated"], rows));
  });
  $("tables").replaceChildren(...parts);
}

function render() {
  const { request, answer } = state;
  $("loss-value").textContent = lossText(answer.loss);
  $("loss-value").dataset.value = String(answer.loss);
  const lossMark = state.marks?.entries.get("loss||");
  $("loss-mark").textContent = lossMark ? `✗ the answer has ${lossMark.submitted ?? "no value"}` : "";
  $("loss-mark").className = lossMark ? "mark wrong" : "mark";
  const samples = asRows(request.inputs).length;
  $("sample-field").hidden = samples <= 1;
  $("sample").replaceChildren(...Array.from({ length: samples }, (_, s) => option(String(s), `sample ${s + 1}`, s === state.sample)));
  state.entries = drawDiagram($("diagram"), { request, answer, sample: state.sample, marks: state.marks, onSelect: showFormula });
  if (state.pinned) {
    state.pinned = state.entries.find((e) => e.name === state.pinned.name && e.quantities[0] === state.pinned.quantities[0]) ?? null;
  }
  showFormula(null, false);
  drawTables();
  $("request-json").value = JSON.stringify(request, null, 1);
  const n = state.history.length - 1;
  $("steps-summary").textContent = drawLossPlot($("loss-plot"), state.history) + (n ? ` Step ${n} of this run.` : "");
  document.querySelector(`input[name="direction"][value="${request.ascent ? "ascent" : "descent"}"]`).checked = true;
}

// Grading -----------------------------------------------------------------------------------------

function drawReport(report) {
  const box = $("report");
  const summary = document.createElement("p");
  summary.className = "summary";
  summary.textContent = report.summary;
  const list = document.createElement("ul");
  for (const item of report.items) {
    const li = document.createElement("li");
    li.className = item.status;
    li.dataset.item = item.id;
    const head = document.createElement("strong");
    head.textContent = `${item.status === "passed" ? "✓" : "✗"} ${item.name}: ${item.status}, ${item.score} / ${item.max_score}`;
    li.append(head);
    for (const mistake of item.mistakes || []) {
      const p = document.createElement("p");
      p.className = "mistake";
      p.dataset.mistake = mistake.id;
      p.textContent = `Mistake: ${mistake.description}`;
      li.append(p);
    }
    if (item.status !== "passed") {
      const pre = document.createElement("pre");
      pre.textContent = item.feedback;
      li.append(pre);
    }
    list.append(li);
  }
  box.replaceChildren(summary, list);
}

async function grade() {
  const submission = parseJson($("answer").value, "The student's answer");
  if (submission === null || typeof submission !== "object" || Array.isArray(submission)) {
    throw new UserError('The student\'s answer must be a JSON object such as {"loss": 0.43, "layers": [...]}');
  }
  const quantities = quantitiesOf(submission);
  if (!quantities.length) throw new UserError("The student's answer gives no quantity: loss, outputs or layers[i].deltas, ...");
  const report = await post("v1/grade", {
    problem: state.request,
    submission,
    quantities,
    tolerance: TOLERANCE,
    format: "native",
  });
  state.marks = marksOf(report, state.answer, submission, state.request);
  drawReport(report);
  render();
  status(report.summary);
}

/** A plausible wrong answer: the loss and the deltas, the last layer's with the sign flipped. */
function exampleWrongAnswer() {
  const round = (v) => (Array.isArray(v) ? v.map(round) : Number(sig(v)));
  const negate = (v) => (Array.isArray(v) ? v.map(negate) : -v);
  const last = state.answer.layers.length - 1;
  return {
    loss: round(state.answer.loss),
    layers: state.answer.layers.map((layer, i) => ({ deltas: round(i === last ? negate(layer.deltas) : layer.deltas) })),
  };
}

// Start -------------------------------------------------------------------------------------------

function wire() {
  $("network-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(async () => load(requestFromForm()));
  });
  $("apply-sizes").addEventListener("click", () => busy(async () => load(requestFromForm())));
  $("loss").addEventListener("change", () => fillLossParameters($("loss").value));
  $("preset").addEventListener("change", () => fillLossParameters($("loss").value));
  $("problem-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(async () => {
      const sizes = parseSizes();
      const seed = Number($("seed").value);
      const generated = await post("v1/problems", {
        seed,
        layer_sizes: sizes,
        activations: activationSpecs(sizes.length - 1),
        loss: specFrom($("loss").value, $("loss-parameters")),
        learning_rate: Number($("learning-rate").value) || 0.5,
      });
      await load(generated.problem);
      status(`loaded problem ${seed}`);
    });
  });
  $("request-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(async () => {
      const request = parseJson($("request-json").value, "The request");
      delete request.explain;
      delete request.explain_sample;
      delete request.array_encoding;
      await load(request);
    });
  });
  $("sample").addEventListener("change", () => busy(async () => {
    state.sample = Number($("sample").value);
    state.answer = await backprop(state.request);
    render();
  }));
  for (const radio of document.querySelectorAll('input[name="direction"]')) {
    radio.addEventListener("change", () => busy(async () => {
      const request = copy(state.request);
      if (radio.value === "ascent") request.ascent = true;
      else delete request.ascent;
      state.answer = await backprop(request);
      state.request = request;
      render();
    }));
  }
  $("step-one").addEventListener("click", () => busy(() => steps(1)));
  $("step-many").addEventListener("click", () => busy(async () => {
    const n = Number($("step-count").value);
    if (!Number.isInteger(n) || n < 1 || n > MAX_STEPS) throw new UserError(`Steps: give a whole number from 1 to ${MAX_STEPS}`);
    await steps(n);
  }));
  $("reset-steps").addEventListener("click", () => busy(() => load(state.start)));
  $("grade-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(grade);
  });
  $("example-answer").addEventListener("click", () => {
    $("answer").value = JSON.stringify(exampleWrongAnswer());
    $("answer").focus();
  });
  $("clear-grade").addEventListener("click", () => {
    state.marks = null;
    $("report").replaceChildren();
    render();
  });
}

async function start() {
  wire();
  await busy(async () => {
    const [activations, losses, example] = await Promise.all([
      get("v1/activations"),
      get("v1/losses"),
      get("playground/example.json"),
    ]);
    state.activations = activations.activations;
    state.losses = losses.losses;
    state.request = example;
    await load(example);
    document.body.dataset.ready = "true";
  });
}

start();
