from tests.cli.conftest import modelbot, repo  # noqa: F401  # the CLI runner and the example registry
from tests.support.localhub import localhub, localhub_factory  # noqa: F401  # a running localhub
