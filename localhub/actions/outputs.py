"""The files a step writes for the runner (GITHUB_OUTPUT, GITHUB_ENV), read back as the runner does."""

from __future__ import annotations


def read_outputs(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file (both forms), as the runner does between steps."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            out[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out
