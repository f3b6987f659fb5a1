"""The one shape of every error answer: FastAPI's validation-error shape, for 4xx and 5xx alike.

    {"detail": [{"loc": ["body", "network", "layers", 1, "weights"],
                 "msg": "network.layers[1].weights has 2 rows but layer 1 has 3 outputs",
                 "type": "shape_mismatch"}]}

``loc`` says where (the request part, then the path inside it), ``msg`` what is wrong in words a
student understands, ``type`` a stable machine-readable kind. The input is never echoed back,
and at most MAX_PROBLEMS problems are listed (the last one then says how many were left out).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_PROBLEMS = 20
MAX_QUOTED = 40
"""Characters of a client's input an error message may quote (excerpt)."""


LONE_SURROGATES = dict.fromkeys(range(0xD800, 0xE000), "\ufffd")
"""str.translate's table from each surrogate code point to U+FFFD: a str that holds one is not
UTF-8 (JSON's "\\ud800" escape, read by Python's json module), and orjson refuses to write it."""


def excerpt(text: str) -> str:
    """At most MAX_QUOTED characters of a client's input, to quote in a message; a lone
    surrogate (not UTF-8: JSON's "\\ud800" read by Python) becomes U+FFFD."""
    text = text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 3] + "..."
    return text.translate(LONE_SURROGATES)


class Problem(BaseModel):
    loc: list[str | int] = Field(description="where: the request part, then the path inside it")
    msg: str = Field(description="what is wrong, and where, in plain words")
    type: str = Field(description="a stable, machine-readable kind of problem")


class ErrorResponse(BaseModel):
    detail: list[Problem] = Field(max_length=MAX_PROBLEMS + 1)
    request_id: str | None = Field(
        default=None,
        description="5xx answers only: the request's id, as in the X-Request-ID header, to find "
        "it in the server's logs",
    )
