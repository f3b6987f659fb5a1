"""Large requests end to end over loopback against the in-process floor, in the same run.

Each round sends the request once through a real ``backprop-service serve`` and computes the
floor (floor.py) once in this process, so both see the same noise. The service's answer is
checked to be byte-for-byte the floor's: same numbers, same JSON.
"""

from __future__ import annotations

from typing import Any

from bench.client import Client
from bench.floor import floor
from bench.servers import Server
from bench.stats import interleaved
from bench.workloads import Workload, with_base64_arrays


def measure(server: Server, work: Workload, *, rounds: int) -> dict[str, Any]:
    client = Client(server.port)
    answer = client.post("/v1/backprop", work.body)
    if answer != floor(work.body):
        raise AssertionError(f"{work.name}: the service's answer differs from the floor's")
    times = interleaved(
        {
            "end_to_end": lambda: client.post("/v1/backprop", work.body),
            "floor": lambda: floor(work.body),
        },
        rounds=rounds,
    )
    client.close()
    e2e, base = times["end_to_end"], times["floor"]
    return {
        "workload": work.label,
        "body_bytes": len(work.body),
        "answer_bytes": len(answer),
        "end_to_end": e2e.as_dict(),
        "floor": base.as_dict(),
        "ratio_median": e2e.median / base.median,
        "ratio_p90": e2e.p90 / base.p90,
    }


def measure_base64(server: Server, work: Workload, *, rounds: int) -> dict[str, Any]:
    """The same request with Base64Array arrays both ways, against JSON lists end to end."""
    encoded = with_base64_arrays(work)
    client = Client(server.port)
    times = interleaved(
        {
            "base64": lambda: client.post("/v1/backprop", encoded.body),
            "json": lambda: client.post("/v1/backprop", work.body),
        },
        rounds=rounds,
    )
    client.close()
    return {
        "workload": work.label,
        "body_bytes": len(encoded.body),
        "base64": times["base64"].as_dict(),
        "json": times["json"].as_dict(),
        "ratio_median": times["base64"].median / times["json"].median,
    }
