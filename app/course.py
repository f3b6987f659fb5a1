"""A course's per-student problems: a roster, a course secret, one seeded problem per student.

    roster.csv   sid,email,name              (headers in any case, in any order; a BOM, blank
                 12345,ada@uni.edu,Ada L.     lines and spaces around values are fine)
    secret       a file or $BACKPROP_COURSE_SECRET: any text, kept out of students' reach

A student's seed is HMAC-SHA256(secret, "backprop-service seed v1 | assignment | key | value"),
its first 8 bytes as an integer, where key is "email" (the default) or "sid" and value is the
student's (an email in lower case). The student knows the value, nobody without the secret can
work out the seed from it, and a new assignment name or secret gives every student a new
problem. The seed makes the problem (engine/problems.py: the same on every machine and in every
later version), so `backprop-service problems` and the autograders (app/autograders.py) give a
student the same numbers without sharing anything but the secret and this configuration.

The secret is never printed, logged or written into a problem or handout.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from typing_extensions import Self

from app import services
from app.described import describe
from engine.grading import QUANTITIES, Quantity
from schemas.problems import ProblemRequest

SECRET_ENV = "BACKPROP_COURSE_SECRET"  # noqa: S105 (a variable's name, not a secret)
"""The environment variable that may hold the course secret, instead of a file."""

Key = Literal["sid", "email"]

_HEADERS: dict[Key | Literal["name"], tuple[str, ...]] = {
    "sid": ("sid", "student id", "student_id", "studentid", "student number", "id"),
    "email": ("email", "e-mail", "email address", "mail"),
    "name": ("name", "full name", "student name", "student"),
}
"""Roster headers read as each column, compared in lower case with spaces trimmed."""

MIN_SECRET_BYTES = 16


class CourseError(Exception):
    """A roster, secret or course configuration that cannot be used; the message says what and
    where (file and line)."""


# The roster ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """One roster row; line is its line in the file (1 is the header)."""

    sid: str
    email: str
    name: str
    line: int = 0

    def value(self, key: Key) -> str:
        return normalized(key, self.sid if key == "sid" else self.email)

    @property
    def label(self) -> str:
        """The student in words: "Ada L. (ada@uni.edu)"."""
        who = self.email or self.sid
        return f"{self.name} ({who})" if self.name else who


def normalized(key: Key, value: str) -> str:
    """A sid as written, trimmed; an email trimmed and in lower case (Ada@Uni.edu is
    ada@uni.edu: Gradescope and a roster need not agree on case)."""
    value = value.strip()
    return value.lower() if key == "email" else value


def read_roster(path: Path, key: Key) -> list[Student]:
    """The students of a roster CSV, each with a value for ``key``, no key value twice."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise CourseError(f"{path}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise CourseError(f"{path}: is not text (UTF-8): {exc.reason}") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    width = 0
    students: list[Student] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if columns is None:
                columns, width = _columns(path, line, row, key), len(row)
                continue
            students.append(
                _student(path, line, row, columns=columns, width=width, key=key, seen=seen)
            )
    except csv.Error as exc:
        raise CourseError(f"{path}, line {reader.line_num}: {exc}") from exc
    if columns is None:
        raise CourseError(f"{path}: is empty (expected a header such as sid,email,name)")
    if not students:
        raise CourseError(f"{path}: has a header but no students")
    return students


def _columns(path: Path, line: int, header: list[str], key: Key) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    columns: dict[str, int] = {}
    for column, aliases in _HEADERS.items():
        found = [i for i, name in enumerate(names) if name in aliases]
        if len(found) > 1:
            raise CourseError(
                f"{path}, line {line}: more than one column reads as {column}: "
                + ", ".join(repr(header[i].strip()) for i in found)
            )
        if found:
            columns[column] = found[0]
    if key not in columns:
        raise CourseError(
            f"{path}, line {line}: the header has no {key} column (the problems are seeded "
            "from it); "
            f"the header reads {', '.join(repr(n) for n in header)}, and a {key} column may "
            f"be called {' or '.join(repr(a) for a in _HEADERS[key][:3])}"
        )
    return columns


def _student(
    path: Path,
    line: int,
    row: list[str],
    *,
    columns: dict[str, int],
    width: int,
    key: Key,
    seen: dict[str, int],
) -> Student:
    where = f"{path}, line {line}"
    if len(row) != width:
        raise CourseError(f"{where}: has {len(row)} fields, the header has {width}")

    def cell(column: str) -> str:
        return row[columns[column]].strip() if column in columns else ""

    student = Student(sid=cell("sid"), email=cell("email"), name=cell("name"), line=line)
    value = student.value(key)
    if not value:
        raise CourseError(f"{where}: has no {key} (the problems are seeded from it)")
    if student.email and not re.fullmatch(r"[^@\s]+@[^@\s]+", student.email):
        raise CourseError(f"{where}: {student.email[:60]!r} is not an email address")
    if value in seen:
        raise CourseError(f"{where}: {key} {value[:60]!r} is also on line {seen[value]}")
    seen[value] = line
    return student


# The secret and the seed ---------------------------------------------------------------------


def read_secret(secret_file: str | Path | None) -> bytes:
    """The course secret: the file's content (trailing newlines dropped), else $SECRET_ENV."""
    if secret_file is not None:
        try:
            secret = Path(secret_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise CourseError(f"{secret_file}: cannot be read ({exc.strerror})") from exc
        source = str(secret_file)
    else:
        secret = os.environ.get(SECRET_ENV, "").encode()
        source = f"${SECRET_ENV}"
        if not secret:
            raise CourseError(
                f"no course secret: give --secret-file FILE, or set {SECRET_ENV} "
                "(e.g. FILE made once with: python3 -c 'import secrets; "
                "print(secrets.token_hex(32))' > course-secret.txt)"
            )
    if len(secret) < MIN_SECRET_BYTES:
        raise CourseError(
            f"the course secret in {source} is {len(secret)} bytes long: use at least "
            f"{MIN_SECRET_BYTES} random bytes, or students could guess it and every seed"
        )
    return secret


def seed(secret: bytes, assignment: str, key: Key, value: str) -> int:
    """A student's seed, in [0, 2^64): see the module's docstring."""
    message = "\x1f".join(("backprop-service seed v1", assignment, key, normalized(key, value)))
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


# The configuration that the command and the autograders share --------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PerStudent(_Strict):
    """How each student's problem is made: parameters, from whose value, for which assignment."""

    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="POST /v1/problems' parameters but the seed: layer_sizes, activations, "
        "loss, batch_size, decimals, weight_range, learning_rate",
    )
    key: Key = Field(default="email", description="the student's value the seed comes from")
    assignment: str = Field(
        default="", max_length=200, description="a new name gives every student a new problem"
    )
    secret_file: str | None = Field(
        default=None,
        description=f"the course secret's file, relative to the configuration; else ${SECRET_ENV}",
    )
    roster: str | None = Field(
        default=None,
        description="the roster, relative to the configuration: the autograder then grades "
        "only students on it, and finds a student by sid or by email",
    )

    @model_validator(mode="after")
    def _no_seed(self) -> Self:
        for name in ("seed", "solution", "explain"):
            if name in self.parameters:
                raise ValueError(f"parameters.{name} is not a parameter here (the seed is made)")
        return self

    def check(self, where: str) -> None:
        """Raise CourseError, naming the place, if the parameters make no problem."""
        try:
            ProblemRequest.model_validate({**self.parameters, "seed": 0})
        except ValidationError as exc:
            described = describe(exc)
            assert described is not None
            raise CourseError(
                "\n".join(f"{where}parameters.{p['msg']}" for p in described[1])
            ) from exc


class CourseConfig(_Strict):
    """An autograder's configuration (autograder.json): one problem for the class, or one per
    student; how to grade; the name of the student's file."""

    problem: dict[str, Any] | None = Field(
        default=None, description="a /v1/backprop request: the same problem for everyone"
    )
    problems: PerStudent | None = Field(default=None, description="one problem per student")
    grading: dict[str, Any] = Field(
        default_factory=dict,
        description="POST /v1/grade's options but problem, submission and format",
    )
    answer_file: str = Field(default="answer.json", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_kind_of_problem(self) -> Self:
        if (self.problem is None) == (self.problems is None):
            raise ValueError(
                'give either "problem" (one for the class) or "problems" (per student)'
            )
        for name in ("problem", "submission", "format"):
            if name in self.grading:
                raise ValueError(f"grading.{name} is set by the autograder, not here")
        return self


def read_config(path: Path) -> CourseConfig:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CourseError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return CourseConfig.model_validate_json(data)
    except ValidationError as exc:
        raise CourseError(_validation_message(path, exc)) from exc


def _validation_message(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False)[:10]:
        where = ".".join(str(part) for part in error["loc"])
        msg = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{path}: {where + ': ' if where else ''}{msg}")
    return "\n".join(lines)


# One student's problem ---------------------------------------------------------------------


def problem_for(per_student: PerStudent, secret: bytes, value: str) -> dict[str, Any]:
    """The /v1/backprop request of the student whose ``per_student.key`` is ``value``."""
    body = {
        **per_student.parameters,
        "seed": seed(secret, per_student.assignment, per_student.key, value),
    }
    request = ProblemRequest.model_validate(body)
    problem: dict[str, Any] = services.problems(request)["problem"]
    return problem


def problem_id(problem: dict[str, Any]) -> str:
    """A short fingerprint of a problem's numbers, to tell problems apart in feedback and
    handouts; it reveals neither the seed nor the secret."""
    canonical = services.dumps(problem)
    return hashlib.sha256(canonical).hexdigest()[:10]


def file_stem(value: str) -> str:
    """A key value as a file name: ada@uni.edu stays, anything else odd becomes _."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", value)[:120] or "_"


# The handout ---------------------------------------------------------------------------------

NETWORK = ("loss", "outputs")

_WORDS: dict[Quantity, str] = {
    "loss": "the loss L",
    "outputs": "the outputs o = a^L",
    "pre_activations": "every layer's pre-activations z^l",
    "activations": "every layer's activations a^l",
    "deltas": "every layer's deltas delta^l = dL/dz^l",
    "weight_gradients": "every layer's weight gradients dL/dW^l",
    "bias_gradients": "every layer's bias gradients dL/db^l",
    "updated_weights": "every layer's updated weights W^l - eta dL/dW^l",
    "updated_biases": "every layer's updated biases b^l - eta dL/db^l",
}


@dataclass(frozen=True)
class Handout:
    """What a student is handed: whose, the problem, what to compute."""

    title: str
    student: Student | None
    problem: dict[str, Any]
    problem_id: str
    quantities: Sequence[Quantity]

    def _facts(self) -> list[tuple[str, str]]:
        layers = self.problem["network"]["layers"]
        sizes = [len(layers[0]["weights"])] + [len(layer["biases"]) for layer in layers]
        activations = [_name(layer["activation"]) for layer in layers]
        return [
            ("Network", "-".join(str(n) for n in sizes) + " (inputs, then each layer's units)"),
            ("Activations", ", ".join(f"layer {i + 1}: {a}" for i, a in enumerate(activations))),
            ("Loss", _loss_words(self.problem.get("loss", "mse"))),
            ("Learning rate", f"eta = {self.problem['learning_rate']}"),
            (
                "Weights",
                "W^l[j][k] joins unit j of layer l-1 to unit k of layer l (rows: the units "
                "below); a row of inputs or targets is one sample",
            ),
        ]

    def _arrays(self) -> list[tuple[str, str, list[list[Any]]]]:
        """(title, what rows and columns are, rows) of every array the student needs."""
        arrays: list[tuple[str, str, list[list[Any]]]] = []
        for i, layer in enumerate(self.problem["network"]["layers"], start=1):
            arrays.append((f"W^{i}, the weights of layer {i}", "j \\ k", layer["weights"]))
            arrays.append((f"b^{i}, the biases of layer {i}", "k", [layer["biases"]]))
        arrays.append(("x, the inputs", "sample \\ unit", _rows(self.problem["inputs"])))
        arrays.append(("t, the targets", "sample \\ unit", _rows(self.problem["targets"])))
        return arrays

    def _tasks(self) -> list[str]:
        return [_WORDS[q] for q in self.quantities]

    def _skeleton(self) -> str:
        """The shape of answer.json, one layer a line: ... where the numbers go."""
        shapes = {"loss": "...", "bias_gradients": "[...]", "updated_biases": "[...]"}
        top = [f'"{q}": {shapes.get(q, "[[...]]")}' for q in self.quantities if q in NETWORK]
        layer_keys = [q for q in self.quantities if q not in NETWORK]
        lines = ["{" + ", ".join(top) + ("," if top and layer_keys else "")]
        if layer_keys:
            n_layers = len(self.problem["network"]["layers"])
            layer = "{" + ", ".join(f'"{q}": {shapes.get(q, "[[...]]")}' for q in layer_keys) + "}"
            lines.append(' "layers": [')
            lines += [f"   {layer}{',' if i < n_layers - 1 else ''}" for i in range(n_layers)]
            lines.append(" ]")
        lines.append("}")
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.student is not None:
            lines += [f"For **{self.student.label}**. Problem {self.problem_id}.", ""]
        lines += [f"- **{name}**: {value}" for name, value in self._facts()]
        lines.append("")
        for name, corner, rows in self._arrays():
            lines += [f"**{name}**", "", _markdown_table(corner, rows), ""]
        lines += ["## What to compute", ""]
        lines += [f"{i}. {task}" for i, task in enumerate(self._tasks(), start=1)]
        lines += [
            "",
            "Carry at least 4 significant figures. Hand in `answer.json`, layers in order "
            "(layers[0] is layer 1), arrays with one row per sample as above:",
            "",
            "```json",
            self._skeleton(),
            "```",
            "",
        ]
        return "\n".join(lines)

    def html(self) -> str:
        e = html.escape
        parts = [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.4}"
            "table{border-collapse:collapse;margin:.3em 0 1em}"
            "td{border:1px solid #999;padding:.2em .6em;text-align:right;"
            "font-family:monospace}</style>",
            "</head><body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        if self.student is not None:
            parts.append(
                f"<p>For <strong>{e(self.student.label)}</strong>. "
                f"Problem {e(self.problem_id)}.</p>"
            )
        parts.append("<ul>")
        parts += [f"<li><strong>{e(n)}</strong>: {e(v)}</li>" for n, v in self._facts()]
        parts.append("</ul>")
        for name, corner, rows in self._arrays():
            parts.append(f"<p><strong>{e(name)}</strong></p><table>")
            parts.append(
                f"<tr><th>{e(corner)}</th>"
                + "".join(f"<th>{k}</th>" for k in range(1, len(rows[0]) + 1))
                + "</tr>"
            )
            parts += [
                f"<tr><th>{j if corner != 'k' else ''}</th>"
                + "".join(f"<td>{e(_number(v))}</td>" for v in row)
                + "</tr>"
                for j, row in enumerate(rows, start=1)
            ]
            parts.append("</table>")
        parts.append("<h2>What to compute</h2><ol>")
        parts += [f"<li>{e(task)}</li>" for task in self._tasks()]
        parts.append("</ol>")
        parts.append(
            "<p>Carry at least 4 significant figures. Hand in <code>answer.json</code>, layers "
            "in order (layers[0] is layer 1), arrays with one row per sample as above:</p>"
        )
        parts.append(f"<pre>{e(self._skeleton())}</pre>")
        parts.append("</body></html>\n")
        return "\n".join(parts)


def quantities_of(grading: dict[str, Any]) -> list[Quantity]:
    asked = grading.get("quantities")
    return list(asked) if isinstance(asked, list) and asked else list(QUANTITIES)


def _rows(value: list[Any]) -> list[list[Any]]:
    return value if value and isinstance(value[0], list) else [value]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _markdown_table(corner: str, rows: list[list[Any]]) -> str:
    """Rows numbered from 1 down the side, columns from 1 across the top."""
    width = len(rows[0])
    head = f"| {corner} | " + " | ".join(str(k) for k in range(1, width + 1)) + " |"
    rule = "|---|" + "---:|" * width
    body = [
        f"| {j if corner != 'k' else ''} | " + " | ".join(_number(v) for v in row) + " |"
        for j, row in enumerate(rows, start=1)
    ]
    return "\n".join([head, rule, *body])


def _name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    params = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec['name']} ({params})" if params else str(spec["name"])


def _loss_words(spec: Any) -> str:
    """The loss as the textbook's conventions (the problems' default) define it."""
    if spec == "mse":
        return "mse, L = 1/2 of the sum over samples and outputs of (o - t)^2"
    if spec == "cross_entropy":
        return "cross_entropy, L = - the sum over samples of log o_(target) (o: the softmax)"
    if spec == "binary_cross_entropy":
        return "binary_cross_entropy, L = - the sum of t log o + (1 - t) log(1 - o)"
    return f"{spec}, summed over samples and outputs" if isinstance(spec, str) else _name(spec)
