"""Errors of the calculus engine, below the engine's own EngineError (see engine/errors.py).

    EngineError
     └── ExpressionError            an expression cannot be read or differentiated
          ├── ExpressionSyntaxError   the text is not in the grammar: says at which column
          └── ExpressionLimitError    the text or a result is over a limit (length, nesting,
                                      exponent size, size of a derivative)

Values that are not defined at a point (ln(0), say) raise the engine's DomainError, and a gradient
descent that overflows raises its NonFiniteError.
"""

from __future__ import annotations

from engine.errors import EngineError


class ExpressionError(EngineError):
    """An expression that cannot be read or differentiated.

    Parameters
    ----------
    message : str
        What is wrong, in words a student understands (the column is added to it).
    column : int or None
        1-based column in the text where the problem is, None when it is not one place.
    """

    kind = "expression_error"

    def __init__(self, message: str, column: int | None = None) -> None:
        self.message = message
        self.column = column
        super().__init__(message if column is None else f"column {column}: {message}")


class ExpressionSyntaxError(ExpressionError):
    """The text is not an expression of the grammar."""

    kind = "expression_syntax"


class ExpressionLimitError(ExpressionError):
    """The expression, or what is computed from it, is over one of the ExpressionLimits."""

    kind = "limit_exceeded"
