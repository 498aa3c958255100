"""The root conftest's guard: the suite reaches nothing but loopback."""

from __future__ import annotations

import socket
import threading

import pytest

from conftest import OutsideLoopback


@pytest.mark.parametrize("host", ["10.255.255.1", "192.0.2.1", "2001:db8::1"])
def test_a_connection_outside_loopback_fails_the_test_before_any_packet_leaves(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(OutsideLoopback, match=host):
        sock.connect((host, 443))


def test_loopback_and_unix_sockets_still_work() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        accepted.join(5)
    left, right = socket.socketpair()
    left.sendall(b"x")
    assert right.recv(1) == b"x"
    left.close()
    right.close()
