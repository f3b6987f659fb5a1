"""Grading hand-derived backprop: a submission against the reference, with named mistakes.

    problem = BackpropProblem(network, x, y, loss, learning_rate=0.5)
    grader = Grader(problem, all_items(len(network.layers)))
    grades = grader.grade({ItemKey("deltas", 1): student_deltas, ...})

compare.py holds the tolerance, mistakes.py the classic mistakes recomputed, grader.py the
scores, partial credit, diagnoses and feedback.
"""

from engine.grading.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, Tolerance
from engine.grading.grader import Grader, ItemGrade, Points, Submission
from engine.grading.items import (
    LAYER_QUANTITIES,
    NETWORK_QUANTITIES,
    QUANTITIES,
    ItemKey,
    Quantity,
    all_items,
    answer_arrays,
)
from engine.grading.mistakes import MISTAKE_IDS, Mistake, Variant

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "LAYER_QUANTITIES",
    "MISTAKE_IDS",
    "NETWORK_QUANTITIES",
    "QUANTITIES",
    "Comparison",
    "Grader",
    "ItemGrade",
    "ItemKey",
    "Mistake",
    "Points",
    "Quantity",
    "Submission",
    "Tolerance",
    "Variant",
    "all_items",
    "answer_arrays",
]
