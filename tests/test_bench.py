"""The benchmark's floor computes the very answer the service sends, so the ratio is honest."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services import backprop, dumps
from bench.floor import floor
from bench.workloads import Workload, tiny, with_base64_arrays, workload
from schemas import BackpropRequest


@pytest.mark.parametrize(
    "work",
    [
        tiny(),
        workload("relu softmax", (6, 5, 4, 3), 7),
        workload("sigmoid mse", (6, 5, 3), 4, hidden="sigmoid", last="sigmoid", loss="mse"),
    ],
    ids=lambda work: work.name,
)
def test_the_floor_writes_the_services_answer_byte_for_byte(work: Workload) -> None:
    service = dumps(backprop(BackpropRequest.model_validate_json(work.body)))
    assert floor(work.body) == service


def test_the_base64_workload_is_the_same_request() -> None:
    work = workload("relu softmax", (6, 5, 3), 4)
    lists = BackpropRequest.model_validate_json(work.body)
    encoded = BackpropRequest.model_validate_json(with_base64_arrays(work).body)
    assert encoded.array_encoding == "base64"
    for a, b in zip(lists.network.layers, encoded.network.layers, strict=True):
        assert a.weights.tobytes() == b.weights.tobytes()
        assert a.biases.tobytes() == b.biases.tobytes()
    assert lists.inputs.tobytes() == encoded.inputs.tobytes()


def test_the_client_round_trip_sends_the_large_workload() -> None:
    from bench.client_roundtrip import TARGET, large_problem, row

    problem, request = large_problem()
    assert problem.body("lists") == request
    figures = {"median": 0.1, "p90": 0.2}
    made = row({"workload": "w", "client": figures, "json_lists": figures, "ratio_median": 0.6})
    assert (made.ratio, made.met) == (0.6, False)
    assert TARGET == 0.5


def test_the_offline_rows_judge_rate_and_start_up_against_their_targets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import offline

    figures = {
        "answers": 600, "folder_csv_cpu": 1.5, "folder_csv_wall": 1.6,
        "folder_reports_cpu": 3.0, "folder_reports_wall": 3.1,
        "single_cpu": 0.5, "single_wall": 0.55,
    }  # fmt: skip
    monkeypatch.setattr(offline, "measure", lambda quick: figures)
    csv_row, reports_row, single_row = offline.rows(quick=True)
    assert (csv_row.ratio, csv_row.met) == (600 / 1.5 / 300, True)  # 400 answers/s
    assert (reports_row.ratio, reports_row.met) == (600 / 3.0 / 300, False)  # 200 answers/s
    assert (single_row.ratio, single_row.met) == (0.5 / 0.4, False)
    assert "wall 550 ms" in single_row.measure


def test_the_offline_class_is_graded_as_written(tmp_path: Path) -> None:
    from bench.offline import write_class

    problem = write_class(tmp_path, 6)
    assert problem.exists()
    assert len(list((tmp_path / "answers").glob("*.json"))) == 6
