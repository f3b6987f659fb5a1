"""What kubernetes-validate cannot see in deploy/*.yaml: how the pieces fit each other and the app.

    python scripts/check_manifests.py

kubernetes-validate (make k8s-validate runs it first) checks each resource against the API's
schema. This checks what ties them to each other and to the service: the Service, the
PodDisruptionBudget and the HorizontalPodAutoscaler select or target the Deployment's pods; the
probes ask the service's real health endpoints on its port; requests equal limits, at one CPU
and one per-worker memory budget (docs/deployment.md) per worker; the grace period covers the
preStop pause and the service's own graceful shutdown; the pod runs as the image's user with a
read-only root filesystem. Prints each check; exits 1 if any fails.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

WORKER_MEMORY_BUDGET = 1 << 30
"""docs/deployment.md: budget about 1 GiB of memory per worker process with the defaults."""

QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi)?$")


def memory_bytes(quantity: str) -> int:
    match = QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"not a memory quantity this check reads: {quantity}")
    number, unit = match.groups()
    return int(number) << {None: 0, "Ki": 10, "Mi": 20, "Gi": 30}[unit]


def cpus(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def load() -> dict[str, dict[str, Any]]:
    """Every resource in deploy/, by kind."""
    resources: dict[str, dict[str, Any]] = {}
    for path in sorted((ROOT / "deploy").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                resources[document["kind"]] = document
    return resources


def checks(r: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    deployment, service = r["Deployment"], r["Service"]
    hpa, pdb = r["HorizontalPodAutoscaler"], r["PodDisruptionBudget"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    resources = container["resources"]
    workers = int(env.get("WEB_CONCURRENCY", "0"))
    settings = Settings()
    routes = set(create_app(settings).openapi()["paths"])
    probes = {
        kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")
    }
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    pause = int(pre_stop[1]) if pre_stop[0] == "sleep" else 0
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    security = container["securityContext"]
    dockerfile_user = re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)

    def selects(selector: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= labels.items()

    budget = workers * WORKER_MEMORY_BUDGET
    return [
        (
            "the Deployment selects its own pods",
            selects(deployment["spec"]["selector"]["matchLabels"]),
            "",
        ),
        ("the Service selects the pods", selects(service["spec"]["selector"]), ""),
        (
            "the Service targets the pods' port",
            service["spec"]["ports"][0]["targetPort"] in ports,
            "",
        ),
        (
            "the PodDisruptionBudget selects the pods",
            selects(pdb["spec"]["selector"]["matchLabels"]),
            "",
        ),
        (
            "the HorizontalPodAutoscaler scales the Deployment on CPU",
            hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
            and hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu",
            "",
        ),
        (
            "the HPA owns the replica count (none in the Deployment), at least 2",
            "replicas" not in deployment["spec"] and hpa["spec"]["minReplicas"] >= 2,
            f"minReplicas {hpa['spec']['minReplicas']}",
        ),
        (
            "the PodDisruptionBudget leaves one pod of the minimum serving",
            pdb["spec"].get("maxUnavailable", 1) < hpa["spec"]["minReplicas"],
            "",
        ),
        (
            "the probes ask the service's health endpoints on its port",
            probes["liveness"]["path"] == "/healthz"
            and probes["readiness"]["path"] == "/readyz"
            and all(p["path"] in routes and p["port"] in ports for p in probes.values()),
            ", ".join(f"{k} {p['path']}" for k, p in probes.items()),
        ),
        (
            "the container listens where the pod says",
            int(env["PORT"]) == ports["http"],
            f"PORT {env['PORT']}",
        ),
        ("one worker per pod (WEB_CONCURRENCY)", workers == 1, f"WEB_CONCURRENCY {workers}"),
        (
            "requests equal limits (Guaranteed QoS)",
            resources["requests"] == resources["limits"],
            str(resources["limits"]),
        ),
        (
            "one CPU per worker",
            cpus(resources["limits"]["cpu"]) == workers,
            f"cpu {resources['limits']['cpu']}",
        ),
        (
            "memory is the per-worker budget times the workers",
            memory_bytes(resources["limits"]["memory"]) == budget,
            f"memory {resources['limits']['memory']} = {workers} x 1 GiB",
        ),
        (
            "the grace period covers preStop and the graceful shutdown",
            grace >= pause + settings.graceful_shutdown_seconds,
            f"{grace} s >= {pause} s + {settings.graceful_shutdown_seconds} s",
        ),
        (
            "the pod runs as the image's user, read-only, unprivileged",
            dockerfile_user is not None
            and pod["spec"]["securityContext"]["runAsUser"] == int(dockerfile_user.group(1))
            and security["readOnlyRootFilesystem"] is True
            and security["allowPrivilegeEscalation"] is False,
            f"uid {pod['spec']['securityContext']['runAsUser']}",
        ),
    ]


def main() -> int:
    results = checks(load())
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'} {name}{f': {detail}' if detail else ''}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"manifests: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
