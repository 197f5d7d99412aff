"""Building blocks of the configuration models: durations, names, secrets by reference.

Outside the ``config`` package on purpose: each source module declares its own model with these
blocks, and the ``config`` package builds its source union from the source registry.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

DEFAULT_PORT = 9864
SEMVER_TAG_PATTERN = r"^v?\d+\.\d+\.\d+$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
# A hundred years: longer is a mistake, and threading's waits refuse timeouts past ~292 years.
MAX_DURATION = 100 * 365.25 * 86400
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


class ConfigError(Exception):
    """A configuration that cannot be used. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"30s"``, ``"5m"``, ``"48h"``, ``"7d"`` or ``"2w"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 48h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 30s, 5m, 48h or 7d")
    # Written so that NaN (which compares false to everything) is refused as well.
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(
            "expected a duration greater than zero and at most 100 years"
            + ("" if math.isfinite(seconds) else f", not {value}")
        )
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)?\s*$"},
            ]
        }
    ),
]


def _check_regex(value: Any) -> str:
    if not isinstance(value, str):  # re.compile raises TypeError on a number or a list
        raise ValueError("expected a string (a regular expression)")
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
    except (RecursionError, OverflowError):  # nested or repeated beyond what re can hold
        raise ValueError("not a valid regular expression: too large or too deeply nested") from None
    return value


Regex = Annotated[str, BeforeValidator(_check_regex)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def exactly_one(model: BaseModel, first: str, second: str) -> None:
    """The rule of every secret by reference: exactly one of two fields (``*_env``, ``*_file``)."""
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        raise ValueError(f"set exactly one of {first} or {second}")


class Credentials(Strict):
    """A token by reference: exactly one of ``token_env`` or ``token_file``.

    A model whose token is optional (sent only when set) says ``token_required = False``;
    one that may authenticate another way names that field in ``token_alternative``
    (GitHub's ``app``): then exactly one of the three is set."""

    token_required: ClassVar[bool] = True
    token_alternative: ClassVar[str | None] = None

    token_env: str | None = Field(None, description="Environment variable holding the token.")
    token_file: str | None = Field(None, description="File holding the token.")

    @model_validator(mode="after")
    def _one_token(self) -> Self:
        given = (self.token_env is not None) + (self.token_file is not None)
        if self.token_alternative is not None:
            if given + (getattr(self, self.token_alternative) is not None) != 1:
                raise ValueError(
                    f"set exactly one of token_env, token_file or {self.token_alternative}"
                )
        elif self.token_required:
            exactly_one(self, "token_env", "token_file")
        elif given > 1:
            raise ValueError("set at most one of token_env or token_file")
        return self
