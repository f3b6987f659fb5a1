"""A minimal keep-alive HTTP client: the whole body out, the whole answer in, nothing parsed."""

from __future__ import annotations

import http.client

JSON = {"Content-Type": "application/json"}


class Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
        self.connection.request("POST", path, body=body, headers=headers or JSON)
        response = self.connection.getresponse()
        content = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {content[:300]!r}")
        return content

    def close(self) -> None:
        self.connection.close()
