"""docker-compose.yml as data: each service's command, health check and stop settings, so the
production tests run exactly what compose runs instead of a copy that could drift from it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .image import REPO_ROOT

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}


def read_compose(path: Path = REPO_ROOT / "docker-compose.yml") -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def duration_seconds(value: str) -> float:
    """A compose duration ("1m30s", "40s", "2m") in seconds."""
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"not a compose duration: {value!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    healthcheck: list[str] | None
    stop_signal: str
    stop_grace_seconds: float

    def healthcheck_argv(self) -> list[str]:
        """The health check as Docker runs it: CMD as is, CMD-SHELL through /bin/sh -c."""
        if not self.healthcheck:
            raise ValueError(f"{self.name} has no health check")
        kind, *rest = self.healthcheck
        if kind == "CMD":
            return rest
        if kind == "CMD-SHELL":
            # Compose turns "$$" into "$" before the container's shell sees it.
            return ["/bin/sh", "-c", rest[0].replace("$$", "$")]
        raise ValueError(f"unknown health check form {kind!r}")


def service(name: str, compose: dict[str, Any] | None = None) -> Service:
    spec = (compose or read_compose())["services"][name]
    command = spec["command"]
    test = (spec.get("healthcheck") or {}).get("test")
    return Service(
        name=name,
        command=shlex.split(command) if isinstance(command, str) else list(command),
        healthcheck=list(test) if test else None,
        stop_signal=spec.get("stop_signal", "SIGTERM"),
        stop_grace_seconds=duration_seconds(spec.get("stop_grace_period", "10s")),
    )
