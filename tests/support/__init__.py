"""Shared test support: a running localhub with every answer checked against GitHub's schemas."""
