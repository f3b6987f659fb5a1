"""The contract of backprop-service as Pydantic v2 models: requests, answers and errors."""

from schemas.arrays import UNION_TAGS as _ARRAY_TAGS
from schemas.arrays import Base64Array
from schemas.errors import MAX_PROBLEMS, ErrorResponse, Problem
from schemas.examples import SPEC_EXAMPLE, SPEC_FORWARD_EXAMPLE
from schemas.limits import DEFAULT_LIMITS, Limits
from schemas.requests import BackpropRequest, ForwardRequest, NetworkRequest
from schemas.responses import (
    BackpropResponse,
    ForwardResponse,
    backprop_payload,
    conventions_payload,
    forward_payload,
)
from schemas.specs import SPEC_TAGS as _SPEC_TAGS

UNION_TAGS = _ARRAY_TAGS | _SPEC_TAGS
"""Tags of the tagged unions, which Pydantic puts in error locations; clients never see them."""

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_PROBLEMS",
    "SPEC_EXAMPLE",
    "SPEC_FORWARD_EXAMPLE",
    "UNION_TAGS",
    "BackpropRequest",
    "BackpropResponse",
    "Base64Array",
    "ErrorResponse",
    "ForwardRequest",
    "ForwardResponse",
    "Limits",
    "NetworkRequest",
    "Problem",
    "backprop_payload",
    "conventions_payload",
    "forward_payload",
]
