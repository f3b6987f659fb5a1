"""make image-test: the Docker image, run as docs/deployment.md runs it, checked for real.

    python scripts/image_test.py [--image backprop-service:test] [--max-added-mb 280]

The image must already be built (make image-test builds it first). Checks, each PASS or FAIL:

- the image: its size, and what the project adds over its base stays small: no pip or
  setuptools, no test suites, no compilers, no caches, no sources, under --max-added-mb;
- one container run `--read-only --user 10001` on a free loopback port (host networking,
  HOST=127.0.0.1) answers every endpoint family with the right figures: the contract's worked
  example (docs/api.md) on /v1/backprop and /v1/forward, /v1/grade and /v1/grade/batch naming
  the mistake, /v1/gradcheck, /v1/problems (a golden problem), /v1/derivatives, its grading
  (which needs a SymPy worker) and descent, the catalogs, the error shape, the API docs and
  their own scripts (no other host), X-Request-ID, HEAD /healthz, and /metrics counting exactly
  the /v1/backprop requests made, across the worker processes (one per CPU, read-only: their
  metrics live in /dev/shm);
- Docker's HEALTHCHECK reports it healthy within 35 s of `docker run`;
- `docker stop` returns within 10 s while slow requests are in flight, and every one of them
  gets its full 200 answer (no SIGKILL: the exit code is 0).

Prints the figures, then "image-test: N passed, M failed"; exits 1 if any check failed. The
container is removed at the end, whatever happened. Needs a Docker engine and, for the image's
size check, the base image of the Dockerfile.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from subprocess import SubprocessError
from typing import Any

import httpx
from containers import Container, base_image, docker, exit_on_sigterm, image_size, started

from schemas import SPEC_EXAMPLE

ROOT = Path(__file__).resolve().parent.parent

READY_WITHIN = 30.0
HEALTHY_WITHIN = 35.0
STOP_WITHIN = 10.0
IN_FLIGHT = 4
SLOW_SUBMISSIONS = 3000
"""/v1/grade/batch with this many answers takes about a second here: a slow-ish request."""

# The contract's worked example (docs/api.md) and its answer, in full float64 precision.
EXAMPLE = SPEC_EXAMPLE
EXAMPLE_LOSS = 0.43222056229515043
EXAMPLE_OUTPUTS = [[0.907844483879696, 0.9251748404701142]]
EXAMPLE_HIDDEN = [[0.6456563062257954, 0.7685247834990178, 0.8581489350995123]]
EXAMPLE_OUTPUT_DELTAS = [[-0.007709995607178885, 0.06404648197232991]]
EXAMPLE_HIDDEN_DELTAS = [[0.010487512743329588, 0.010159104265527777, 0.008323217251074476]]
EXAMPLE_UPDATED_WEIGHTS_2 = [
    [0.7024890036423741, 0.7793239925114943],
    [0.9029626613523928, 0.9753893456541707],
    [1.1033081622599614, 1.1725192898492875],
]
EXAMPLE_INPUT_GRADIENTS = [[0.00825809117952853, 0.011155074605521714]]
TEXTBOOK = {
    "preset": "textbook",
    "weight_layout": "in_out",
    "relu_grad_at_zero": 1,
    "loss": {"name": "mse", "reduction": "sum", "half": True},
}

# A student's answer to it with the sign of dL/do flipped: every delta comes out negated.
FLIPPED = {
    "loss": 0.4322,
    "layers": [{"deltas": [[-0.01049, -0.01016, -0.008323]]}, {"deltas": [[0.00771, -0.06405]]}],
}
RIGHT = {
    "loss": 0.4322,
    "layers": [{"deltas": [[0.01049, 0.01016, 0.008323]]}, {"deltas": [[-0.00771, 0.06405]]}],
}

# POST /v1/problems {"seed": 42}: pinned by tests/test_problems.py, the same here and for good.
SEED_42 = {
    "network": {
        "layers": [
            {"weights": [[0.9, 0.9], [-1.0, -0.1]], "biases": [0.3, 0.8], "activation": "sigmoid"},
            {"weights": [[0.6, 1.0], [0.3, -0.5]], "biases": [-0.5, 0.3], "activation": "sigmoid"},
        ]
    },
    "inputs": [[-0.2, -0.6]],
    "targets": [[1.0, 0.5]],
    "loss": "mse",
    "learning_rate": 0.5,
}


class CheckError(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckError(message)


def close(got: Any, want: Any, rel: float = 1e-12) -> bool:
    """Numbers, or nested lists of them, equal to a relative 1e-12 (absolute 1e-15)."""
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(close, got, want))
    return isinstance(got, int | float) and math.isclose(got, want, rel_tol=rel, abs_tol=1e-15)


class Run:
    """The checks of one run: each prints PASS or FAIL with what it found."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def check(self, name: str, body: Callable[[], str]) -> None:
        try:
            detail = body()
        except CheckError as exc:
            self.fail(name, str(exc))
        except (
            httpx.HTTPError,
            OSError,
            LookupError,
            TypeError,
            ValueError,
            SubprocessError,
        ) as exc:
            self.fail(name, f"{type(exc).__name__}: {exc}")
        else:
            self.passed.append(name)
            print(f"PASS {name}: {detail}", flush=True)

    def fail(self, name: str, detail: str) -> None:
        self.failed.append(name)
        print(f"FAIL {name}: {detail}", flush=True)


def post(client: httpx.Client, path: str, body: Any, status: int = 200) -> Any:
    response = client.post(path, json=body)
    expect(
        response.status_code == status,
        f"POST {path} answered {response.status_code}, not {status}: {response.text[:300]}",
    )
    return response.json()


# The image itself ------------------------------------------------------------------------------

INSIDE = r"""
import importlib.util, json, os, shutil
venv = "/opt/venv"
tests = [os.path.join(d, "tests") for d, subdirs, _ in os.walk(venv) if "tests" in subdirs]
found = {
    "tests": tests[:5],
    "installers": [m for m in ("pip", "setuptools", "wheel") if importlib.util.find_spec(m)],
    "compilers": [c for c in ("gcc", "cc", "c++", "clang", "make", "ld") if shutil.which(c)],
    "caches": [p for p in ("/root/.cache", "/tmp/pip-cache", "/src") if os.path.exists(p)],
    "uid": os.getuid(),
}
print(json.dumps(found))
"""


def check_image(run: Run, image: str, max_added_mb: float) -> None:
    def size() -> str:
        total = image_size(image)
        base = base_image(str(ROOT / "Dockerfile"))
        added = total - image_size(base)
        expect(
            added <= max_added_mb * 1e6,
            f"the project adds {added / 1e6:.0f} MB to {base}, over {max_added_mb:g} MB",
        )
        mb = f"{total / 1e6:.0f} MB in all, {added / 1e6:.0f} MB added to {base}"
        return f"{mb} (at most {max_added_mb:g})"

    def contents() -> str:
        out = docker(
            "run", "--rm", "--network", "none", "--read-only", "--entrypoint", "python",
            image, "-c", INSIDE,
        )  # fmt: skip
        found = json.loads(out)
        leftovers = {k: v for k, v in found.items() if k != "uid" and v}
        expect(not leftovers, f"the image holds what only a build needs: {leftovers}")
        expect(found["uid"] == 10001, f"the image runs as uid {found['uid']}, not 10001")
        return "no test suites, pip, setuptools, compilers or caches; runs as uid 10001"

    def healthcheck() -> str:
        test = docker("image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", image)
        expect("/readyz" in test, f"the HEALTHCHECK does not ask /readyz: {test}")
        return test

    run.check("image size", size)
    run.check("image contents", contents)
    run.check("image HEALTHCHECK", healthcheck)


# The endpoints -----------------------------------------------------------------------------------


def health(client: httpx.Client) -> str:
    expect(client.get("/healthz").json() == {"status": "ok"}, "GET /healthz is not ok")
    expect(client.get("/readyz").json() == {"status": "ready"}, "GET /readyz is not ready")
    return "GET /healthz ok, GET /readyz ready"


def backprop(client: httpx.Client) -> str:
    got = post(client, "/v1/backprop", EXAMPLE)
    expect(close(got["loss"], EXAMPLE_LOSS), f"loss {got['loss']!r}, not {EXAMPLE_LOSS!r}")
    expect(close(got["outputs"], EXAMPLE_OUTPUTS), f"outputs {got['outputs']}")
    hidden, output = got["layers"]
    expect(close(hidden["activations"], EXAMPLE_HIDDEN), "layer 1 activations")
    expect(close(hidden["deltas"], EXAMPLE_HIDDEN_DELTAS), f"layer 1 deltas {hidden['deltas']}")
    expect(close(output["deltas"], EXAMPLE_OUTPUT_DELTAS), f"layer 2 deltas {output['deltas']}")
    expect(close(output["updated_weights"], EXAMPLE_UPDATED_WEIGHTS_2), "layer 2 updated_weights")
    expect(close(got["input_gradients"], EXAMPLE_INPUT_GRADIENTS), "input_gradients")
    expect(got["conventions"] == TEXTBOOK, f"conventions {got['conventions']}")
    return f"the worked example: loss {got['loss']!r}, every figure to 1e-12"


def forward(client: httpx.Client) -> str:
    body = {k: v for k, v in EXAMPLE.items() if k != "learning_rate"}
    got = post(client, "/v1/forward", body)
    expect(close(got["loss"], EXAMPLE_LOSS), f"loss {got['loss']!r}")
    expect(close(got["outputs"], EXAMPLE_OUTPUTS), f"outputs {got['outputs']}")
    expect(close(got["layers"][0]["activations"], EXAMPLE_HIDDEN), "layer 1 activations")
    expect("deltas" not in got["layers"][0], "a forward pass answered deltas")
    return f"loss {got['loss']!r}, outputs {got['outputs']}"


def grade(client: httpx.Client) -> str:
    body = {"problem": EXAMPLE, "submission": FLIPPED, "quantities": ["loss", "deltas"]}
    got = post(client, "/v1/grade", body)
    expect((got["score"], got["max_score"]) == (1, 3), f"score {got['score']}/{got['max_score']}")
    failed = [item for item in got["items"] if item["status"] != "passed"]
    ids = [i["id"] for i in failed]
    expect(ids == ["layers[0].deltas", "layers[1].deltas"], f"failed items {failed}")
    mistakes = {m["id"] for item in failed for m in item.get("mistakes", [])}
    expect(mistakes == {"loss_gradient_sign"}, f"diagnosed {mistakes}")
    return f"{got['summary']}; both deltas: loss_gradient_sign"


def grade_batch(client: httpx.Client) -> str:
    body = {
        "problem": EXAMPLE,
        "submissions": [
            {"id": "ada", "submission": RIGHT},
            {"id": "bob", "submission": FLIPPED},
        ],
        "quantities": ["loss", "deltas"],
        "format": "gradescope",
    }
    got = post(client, "/v1/grade/batch", body)
    summary = got["class_summary"]
    want = {
        "submissions": 2,
        "unreadable": 0,
        "max_score": 3,
        "mean_score": 2.0,
        "full_marks": 1,
        "mistakes": {"loss_gradient_sign": 1},
    }
    expect(summary == want, f"class_summary {summary}")
    scores = {r["id"]: r["report"]["score"] for r in got["results"]}
    expect(scores == {"ada": 3, "bob": 1}, f"Gradescope scores {scores}")
    return f"class_summary {summary}"


def gradcheck(client: httpx.Client) -> str:
    body = {k: v for k, v in EXAMPLE.items() if k != "learning_rate"}
    got = post(client, "/v1/gradcheck", body)
    expect(got["verdict"] == "good", f"verdict {got['verdict']}")
    expect(got["max_relative_error"] < 1e-7, f"max_relative_error {got['max_relative_error']}")
    expect(len(got["parameters"]) == 4, "not one check per weight and bias tensor")
    return f"verdict good, max relative error {got['max_relative_error']:.1e}"


def problems(client: httpx.Client) -> str:
    got = post(client, "/v1/problems", {"seed": 42, "solution": True})
    expect(got["problem"] == SEED_42, f"seed 42 gave another problem: {got['problem']}")
    direct = post(client, "/v1/backprop", SEED_42)
    expect(got["solution"] == direct, "its solution differs from /v1/backprop's answer")
    return f"seed 42: the golden 2-2-2 problem, solution loss {direct['loss']!r}"


def derivatives(client: httpx.Client) -> str:
    body = {"expression": "x^2*sin(x)", "point": {"x": 1}}
    got = post(client, "/v1/derivatives", body)
    (partial,) = got["derivatives"]
    text = partial["derivative"]["text"]
    expect(text == "2*x*sin(x) + x^2*cos(x)", f"d/dx = {text}")
    expect(close(got["value"], math.sin(1)), f"value {got['value']}")
    expect(close(partial["value"], 2 * math.sin(1) + math.cos(1)), f"d/dx at 1: {partial}")
    expect(partial["steps"][0]["rule"] == "product rule", "the first step is not the product rule")
    return f"d/dx x^2*sin(x) = {text} = {partial['value']!r} at x = 1"


def derivative_grade_right(client: httpx.Client) -> str:
    body = {"function": "x^2*sin(x)", "answer": "2*x*sin(x) + x^2*cos(x)"}
    got = post(client, "/v1/derivatives/grade", body)
    (item,) = got["items"]
    expect(item["equivalent"] is True and got["score"] == 1, f"not equivalent: {item}")
    expect(item["symbolic"] == "equal", f"SymPy's verdict is {item['symbolic']}, not equal")
    return f"equivalent, SymPy: {item['symbolic']} ({item['method']})"


def derivative_grade_wrong(client: httpx.Client) -> str:
    body = {"function": "sin(x^2)", "answer": "cos(x^2)", "format": "prairielearn"}
    got = post(client, "/v1/derivatives/grade", body)
    expect(got["gradable"] is True and got["score"] == 0, f"score {got['score']}")
    expect(got["tests"][0]["message"].startswith("Not equivalent: at x = "), "no counterexample")
    message: str = got["tests"][0]["message"]
    return message.splitlines()[0][:100]


def descent(client: httpx.Client) -> str:
    body = {"expression": "x^2 + 3*y^2", "start": {"x": 1, "y": 1}, "learning_rate": 0.1}
    got = post(client, "/v1/derivatives/descent", {**body, "steps": 2})
    expect(close(got["point"]["x"], 0.64) and close(got["point"]["y"], 0.16), f"{got['point']}")
    expect(close(got["value"], 0.4864), f"value {got['value']}")
    expect(len(got["path"]) == 3, f"a path of {len(got['path'])} points for 2 steps")
    return f"2 steps from (1, 1): {got['point']}, f = {got['value']!r}"


def catalogs(client: httpx.Client) -> str:
    activations = [a["name"] for a in client.get("/v1/activations").json()["activations"]]
    losses = [loss["name"] for loss in client.get("/v1/losses").json()["losses"]]
    limits = {x["name"]: x["value"] for x in client.get("/v1/limits").json()["limits"]}
    expect(len(activations) == 11 and "softmax" in activations, f"activations {activations}")
    expect(len(losses) == 6 and "smooth_l1" in losses, f"losses {losses}")
    expect(limits.get("max_body_bytes") == 32 * 1024 * 1024, f"limits {limits}")
    return f"{len(activations)} activations, {len(losses)} losses, {len(limits)} limits"


def errors(client: httpx.Client) -> str:
    bad = copy.deepcopy(EXAMPLE)
    bad["network"]["layers"][1]["weights"] = [[0.7, 0.8], [0.9, 1.0]]
    (problem,) = post(client, "/v1/backprop", bad, status=422)["detail"]
    want = "network.layers[1].weights has 2 rows but layer 1 has 3 outputs"
    expect(problem["msg"].startswith(want), f"422 says {problem['msg']!r}")
    response = client.post("/v1/backprop", content=b"{", headers={"content-type": "text/plain"})
    expect(response.status_code == 415, f"a text/plain body got {response.status_code}")
    response = client.post(
        "/v1/backprop", content=b"{", headers={"content-type": "application/json"}
    )
    expect(response.status_code == 400, f"a body that is not JSON got {response.status_code}")
    return "422 names the shape mismatch, 415 for text/plain, 400 for broken JSON"


def api_docs(client: httpx.Client) -> str:
    paths = client.get("/openapi.json").json()["paths"]
    families = ["/v1/backprop", "/v1/forward", "/v1/grade", "/v1/grade/batch",
                "/v1/gradcheck", "/v1/problems", "/v1/derivatives",
                "/v1/derivatives/grade", "/v1/derivatives/descent"]  # fmt: skip
    missing = [p for p in families if p not in paths]
    expect(not missing, f"/openapi.json lacks {missing}")
    expect(client.get("/docs").status_code == 200, "GET /docs is not 200")
    return f"/openapi.json lists {len(paths)} paths; /docs 200"


def offline_docs(client: httpx.Client) -> str:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        expect(html.status_code == 200, f"GET {page} is {html.status_code}")
        expect("https://" not in html.text, f"{page} names another host")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.offline.js"):
        answer = client.get(f"/docs/assets/{asset}")
        expect(answer.status_code == 200, f"GET /docs/assets/{asset} is {answer.status_code}")
    return "/docs and /redoc name only the service's own scripts, each 200"


def backprop_count(client: httpx.Client) -> float:
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    metrics = client.get("/metrics")
    expect(metrics.status_code == 200, f"GET /metrics is {metrics.status_code}")
    labels = {"route": "/v1/backprop", "method": "POST", "status": "200"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
        if sample.name == "backprop_http_requests_total" and sample.labels == labels
    )


def operations(client: httpx.Client) -> str:
    before = backprop_count(client)
    made = 6
    for i in range(made):  # a connection each, so that every worker gets some
        with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
            answer = own.post("/v1/backprop", json=EXAMPLE, headers={"x-request-id": f"img-{i}"})
            expect(answer.status_code == 200, f"/v1/backprop answered {answer.status_code}")
            expect(answer.headers.get("x-request-id") == f"img-{i}", "X-Request-ID not echoed")
    counted = backprop_count(client) - before
    expect(counted == made, f"/metrics counted {counted:g} of {made} /v1/backprop requests")
    head = client.head("/healthz")
    expect(head.status_code == 200 and head.content == b"", f"HEAD /healthz: {head.status_code}")
    made_id = client.get("/v1/limits").headers.get("x-request-id", "")
    expect(len(made_id) == 32, f"no X-Request-ID made for a request without one: {made_id!r}")
    return (f"X-Request-ID echoed and made; HEAD /healthz 200, empty; /metrics counted the "
            f"{made} /v1/backprop requests of {made} connections")  # fmt: skip


ENDPOINT_CHECKS: list[tuple[str, Callable[[httpx.Client], str]]] = [
    ("GET /healthz, /readyz", health),
    ("POST /v1/backprop", backprop),
    ("POST /v1/forward", forward),
    ("POST /v1/grade", grade),
    ("POST /v1/grade/batch", grade_batch),
    ("POST /v1/gradcheck", gradcheck),
    ("POST /v1/problems", problems),
    ("POST /v1/derivatives", derivatives),
    ("POST /v1/derivatives/grade (right answer, SymPy)", derivative_grade_right),
    ("POST /v1/derivatives/grade (wrong answer)", derivative_grade_wrong),
    ("POST /v1/derivatives/descent", descent),
    ("GET /v1/activations, /v1/losses, /v1/limits", catalogs),
    ("errors", errors),
    ("GET /openapi.json, /docs", api_docs),
    ("/docs and /redoc offline", offline_docs),
    ("request ids, HEAD, /metrics", operations),
]


def check_endpoints(run: Run, url: str) -> None:
    """Each check on a connection of its own, so that one that fails leaves the others be."""
    for name, check in ENDPOINT_CHECKS:
        with httpx.Client(base_url=url, timeout=30) as client:
            run.check(name, partial(check, client))


# Health and stopping ---------------------------------------------------------------------------


def check_healthy(run: Run, container: Container) -> None:
    def healthy() -> str:
        while (elapsed := time.monotonic() - container.started) < HEALTHY_WITHIN:
            status = container.health()
            if status == "healthy":
                return f"healthy {elapsed:.1f} s after docker run (bound {HEALTHY_WITHIN:g} s)"
            expect(status == "starting", f"health is {status} after {elapsed:.1f} s")
            time.sleep(0.25)
        raise CheckError(f"not healthy within {HEALTHY_WITHIN:g} s: {container.health()}")

    run.check("HEALTHCHECK healthy", healthy)


def slow_batch() -> dict[str, Any]:
    """A /v1/grade/batch of SLOW_SUBMISSIONS answers: about a second of work."""
    submissions = [
        {"id": f"s{i}", "submission": FLIPPED if i % 2 else RIGHT} for i in range(SLOW_SUBMISSIONS)
    ]
    return {"problem": EXAMPLE, "submissions": submissions, "quantities": ["loss", "deltas"]}


def check_stop(run: Run, container: Container) -> None:
    body = slow_batch()
    results: list[tuple[int, int, float] | str] = []
    lock = threading.Lock()

    def request() -> None:
        try:
            with httpx.Client(base_url=container.url, timeout=60) as client:
                response = client.post("/v1/grade/batch", json=body)
            summary = response.json()["class_summary"] if response.status_code == 200 else {}
            result: tuple[int, int, float] | str = (
                response.status_code,
                summary.get("submissions", 0),
                time.monotonic(),
            )
        except (httpx.HTTPError, ValueError) as exc:
            result = f"{type(exc).__name__}: {exc}"
        with lock:
            results.append(result)

    def stop() -> str:
        threads = [threading.Thread(target=request, daemon=True) for _ in range(IN_FLIGHT)]
        for thread in threads:
            thread.start()
        time.sleep(0.4)  # the requests have arrived and are being computed
        stop_began = time.monotonic()
        took = container.stop(timeout=int(STOP_WITHIN))
        for thread in threads:
            thread.join(60)
        state = container.inspect()["State"]
        expect(took < STOP_WITHIN, f"docker stop took {took:.1f} s")
        expect(state["ExitCode"] == 0, f"exit code {state['ExitCode']} (137: killed)")
        errors = [r for r in results if isinstance(r, str)]
        expect(not errors and len(results) == IN_FLIGHT, f"requests failed: {errors}")
        answers = [r for r in results if not isinstance(r, str)]
        bad = [r for r in answers if r[:2] != (200, SLOW_SUBMISSIONS)]
        expect(not bad, f"in-flight requests got {[r[:2] for r in bad]}")
        early = [r for r in answers if r[2] <= stop_began]
        expect(not early, f"{len(early)} requests ended before docker stop: nothing was in flight")
        last = max(r[2] for r in answers) - stop_began
        return (
            f"docker stop took {took:.1f} s (bound {STOP_WITHIN:g} s), exit code 0; "
            f"{IN_FLIGHT} requests in flight all got their 200, the last {last:.1f} s after SIGTERM"
        )

    run.check("docker stop with requests in flight", stop)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default="backprop-service:test")
    parser.add_argument("--max-added-mb", type=float, default=280)
    args = parser.parse_args()
    exit_on_sigterm()

    run = Run()
    check_image(run, args.image, args.max_added_mb)
    with started(args.image, "backprop-image-test") as container:
        print(f"container {container.name} on {container.url}, --read-only --user 10001")
        try:
            ready = container.wait_ready(READY_WITHIN)
        except (TimeoutError, RuntimeError) as exc:
            run.fail("ready", str(exc))
        else:
            print(f"ready (GET /readyz 200) {ready:.1f} s after docker run")
            check_endpoints(run, container.url)
            check_healthy(run, container)
            check_stop(run, container)
        if run.failed:
            print(f"--- the container's log, last lines:\n{container.logs()[-3000:]}")
    print(f"image-test: {len(run.passed)} passed, {len(run.failed)} failed")
    if run.failed:
        print("failed: " + "; ".join(run.failed))
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
