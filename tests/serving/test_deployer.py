"""The gateway deployer's refusals, without a gateway (fast)."""

from __future__ import annotations

import pytest

from bot.deploy.base import DeployError, Deployment
from bot.deploy.gateway import Gateway
from tests.serving.support import free_port


def test_an_unreachable_gateway_fails_the_deploy_with_its_address() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(DeployError, match=f"gateway {url} cannot be reached"):
        Gateway(url, timeout_s=5).deploy(Deployment("m", "production", "1", None, "0" * 40))


def test_a_gateway_url_must_be_http() -> None:
    with pytest.raises(DeployError, match="must be http"):
        Gateway("file:///etc/passwd")
