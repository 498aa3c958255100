"""The fast validator (fastjsonschema) and the full one (jsonschema) must agree on what is valid, or a file
could pass `check` that the located error report would have refused."""

import copy
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import schema, yamlio

PROJECT = Path(__file__).resolve().parents[1]
REGISTRY = yamlio.load((PROJECT / "models.yaml").read_text(), "models.yaml")
POLICY = yamlio.load((PROJECT / "policies/default.yaml").read_text(), "policies/default.yaml")

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["", "x", "models:/a/1", "2026-11-02T09:15:00Z", "ab" * 32, "staging"]),
    st.just([]),
    st.just({}),
    st.just([1, "a"]),
)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def mutate(document, path, value, drop):
    doc = copy.deepcopy(document)
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return doc


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["models", "policy"]), st.data(), leaves, st.booleans())
def test_fast_and_full_validation_agree(name, data, value, drop):
    document = REGISTRY if name == "models" else POLICY
    path = data.draw(st.sampled_from(list(paths(document))))
    mutated = mutate(document, path, value, drop)
    full_errors = list(schema.validator(name).iter_errors(mutated))
    assert schema.is_valid(name, mutated) == (not full_errors), [e.message for e in full_errors]
    assert mutated == mutate(document, path, value, drop)  # validation never fills in defaults
