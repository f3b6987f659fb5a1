"""A typed Python client of backprop-service: NumPy arrays in, NumPy arrays out.

    import numpy as np
    from backprop_client import Client, Layer, Problem

    problem = Problem(
        layers=[Layer(np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]), np.full(3, 0.1), "sigmoid"),
                Layer(np.array([[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]]), np.full(2, 0.2), "sigmoid")],
        inputs=np.array([[1.0, 2.0]]), targets=np.array([[1.0, 0.0]]),
        loss="mse", learning_rate=0.5,
    )
    with Client("http://127.0.0.1:8000") as client:
        result = client.backprop(problem)
    result.layers[1].deltas        # array([[-0.00771, 0.06405]])

Client (sync) and AsyncClient (async) have one method per endpoint. Large arrays travel as
base64 float64 (the service's Base64Array) on their own, a 503 is retried after its
Retry-After (a bounded number of times), and an error answer raises a ServiceError carrying the
service's located messages. The client needs httpx and NumPy only: it imports nothing of the
server.
"""

from backprop_client.arrays import BASE64_MIN_VALUES, ArrayEncoding
from backprop_client.client import DEFAULT_URL, AsyncClient, Client, RetryPolicy
from backprop_client.endpoints import Submission
from backprop_client.errors import (
    BackpropClientError,
    ErrorDetail,
    InvalidRequestError,
    PayloadTooLargeError,
    ServiceBusyError,
    ServiceError,
    TransportError,
)
from backprop_client.models import (
    ActivationInfo,
    BackpropResult,
    BatchReport,
    ConventionsUsed,
    DerivativeResult,
    DescentResult,
    Explanation,
    ForwardResult,
    GeneratedProblem,
    GradcheckResult,
    GradedItem,
    GradeReport,
    Layer,
    LayerBackprop,
    LayerForward,
    LimitInfo,
    LossInfo,
    Mistake,
    Problem,
    WorkedEntry,
)

__all__ = [
    "BASE64_MIN_VALUES",
    "DEFAULT_URL",
    "ActivationInfo",
    "ArrayEncoding",
    "AsyncClient",
    "BackpropClientError",
    "BackpropResult",
    "BatchReport",
    "Client",
    "ConventionsUsed",
    "DerivativeResult",
    "DescentResult",
    "ErrorDetail",
    "Explanation",
    "ForwardResult",
    "GeneratedProblem",
    "GradcheckResult",
    "GradeReport",
    "GradedItem",
    "InvalidRequestError",
    "Layer",
    "LayerBackprop",
    "LayerForward",
    "LimitInfo",
    "LossInfo",
    "Mistake",
    "PayloadTooLargeError",
    "Problem",
    "RetryPolicy",
    "ServiceBusyError",
    "ServiceError",
    "Submission",
    "TransportError",
    "WorkedEntry",
]
