"""The deployment guide lists every setting the service reads, with its real default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.config import ENV_PREFIX, Settings

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text()


def as_written(default: Any) -> str:
    """A default as the guide's table writes it: 10 for 10.0, true for True, [] for []."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, list):
        return json.dumps(default)
    return str(default)


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(rf"^\| ({ENV_PREFIX}\w+) \| ([^|]+) \|", GUIDE, re.MULTILINE))
    for name, field in Settings.model_fields.items():
        variable = ENV_PREFIX + name.upper()
        assert variable in rows, f"{variable} is missing from docs/deployment.md"
        default = field.get_default(call_default_factory=True)
        assert rows[variable].strip().strip("`") == as_written(default), variable
