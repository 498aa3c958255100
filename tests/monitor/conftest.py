from tests.cli.conftest import modelbot, repo  # noqa: F401  # the CLI runner and the example registry
