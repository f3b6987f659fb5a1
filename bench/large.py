"""Large requests end to end over loopback against their floor, in the same run.

The floor is what issue 11 defines: the in-process JSON + NumPy work (floor.py: orjson, NumPy,
the engine, orjson) plus the bare HTTP transfer of the same bytes (the request's body posted to
bench/bare_app.py on the same uvicorn settings, which answers as many bytes as the service's
answer has). Each round sends the request once through a real ``backprop-service serve``,
computes the in-process floor once and makes the bare transfer once, so all three see the same
noise; a round's floor is its in-process time plus its transfer time. The service's answer is
checked to be byte-for-byte the in-process floor's: same numbers, same JSON.
"""

from __future__ import annotations

from typing import Any

from bench.client import JSON, Client
from bench.floor import floor
from bench.servers import Server
from bench.stats import Summary, interleaved
from bench.workloads import Workload, with_base64_arrays


def measure(server: Server, bare: Server, work: Workload, *, rounds: int) -> dict[str, Any]:
    """The service's request end to end against its floor; ``bare`` serves bench/bare_app.py."""
    client, transfer = Client(server.port), Client(bare.port)
    answer = client.post("/v1/backprop", work.body)
    if answer != floor(work.body):
        raise AssertionError(f"{work.name}: the service's answer differs from the floor's")
    answer_bytes = {**JSON, "X-Answer-Bytes": str(len(answer))}
    if len(transfer.post("/transfer", work.body, answer_bytes)) != len(answer):
        raise AssertionError("the bare transfer's answer is not the service's size")
    times = interleaved(
        {
            "end_to_end": lambda: client.post("/v1/backprop", work.body),
            "in_process": lambda: floor(work.body),
            "transfer": lambda: transfer.post("/transfer", work.body, answer_bytes),
        },
        rounds=rounds,
    )
    client.close()
    transfer.close()
    e2e = times["end_to_end"]
    base = Summary(
        tuple(map(sum, zip(times["in_process"].values, times["transfer"].values, strict=True)))
    )
    return {
        "workload": work.label,
        "body_bytes": len(work.body),
        "answer_bytes": len(answer),
        "end_to_end": e2e.as_dict(),
        "floor": base.as_dict(),
        "floor_in_process": times["in_process"].as_dict(),
        "floor_transfer": times["transfer"].as_dict(),
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
