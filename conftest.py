"""The suite talks only to itself: any connection outside the loopback range fails the test that opened it.

GitHub, MLflow, Prometheus and model servers are all real processes here, on 127.0.0.1; a test that reaches
further (a forgotten default URL, a library phoning home) would pass on a laptop and hang or lie in CI.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


class OutsideLoopback(AssertionError):
    """A test tried to reach a host outside 127.0.0.0/8 and ::1."""


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets and socket pairs stay on this machine
    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise OutsideLoopback(f"connection to {address!r}: the tests may only reach 127.0.0.1 / ::1 (conftest.py)")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]  # the guard is the point
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = _connect, _connect_ex  # type: ignore[method-assign]


# The fast lane (`pytest -m "not slow"`) leaves out every test that trains or registers real models in MLflow,
# starts model servers or runs workflows on localhub's runner: such a test asks for one of these fixtures (or
# lives in tests/demo). They still run in CI's full suite.
HEAVY_FIXTURES = frozenset({"diabetes_v1", "mlflow_registry", "zoo", "store", "python", "registered"})
HEAVY_DIRECTORIES = ("tests/demo/",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = str(config.rootpath)
    for item in items:
        where = str(item.path).removeprefix(root).lstrip("/")
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())) or where.startswith(HEAVY_DIRECTORIES):
            item.add_marker(pytest.mark.slow)
