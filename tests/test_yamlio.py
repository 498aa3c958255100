"""Strict YAML: what a hostile or careless file gets, and where the message points."""

import pytest

from bot import yamlio
from bot.errors import InvalidFile


def problem(text: str | bytes, **kw: int) -> str:
    with pytest.raises(InvalidFile) as info:
        if isinstance(text, bytes):
            yamlio.load_bytes(text, "models.yaml", **kw)
        else:
            yamlio.load(text, "models.yaml")
    assert len(info.value.problems) == 1
    return str(info.value.problems[0])


def test_duplicate_keys_are_refused_at_the_second_one():
    message = problem("models:\n  a: 1\n  b: 2\n  a: 3\n")
    assert message.startswith("models.yaml:4:3")
    assert "duplicate key 'a'" in message


def test_malformed_yaml_names_line_and_column():
    assert problem("models:\n  a: [1, 2\n  b: 3\n").startswith("models.yaml:3:")


def test_non_utf8_names_the_line_and_byte():
    message = problem(b"version: 1\nmodels:\n  caf\xe9: {}\n")
    assert message.startswith("models.yaml:3:6")
    assert "0xe9" in message and "UTF-8" in message


def test_binary_content_is_refused():
    assert "binary" in problem(b"version: 1\n\x00\x01\x02")


@pytest.mark.parametrize("raw", [b"", b"   \n\n"])
def test_an_empty_file_is_refused(raw):
    assert "empty" in problem(raw)


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    message = problem(b"a: 1\n" * 100, max_bytes=64)
    assert "500 bytes" in message and "limit is 64" in message


def test_an_alias_flood_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert "alias" in problem("\n".join(lines))


def test_a_few_aliases_are_fine():
    assert yamlio.load("base: &b {x: 1}\nother: *b\n", "f.yaml") == {"base": {"x": 1}, "other": {"x": 1}}


def test_dates_stay_strings_for_the_schema_to_check():
    assert yamlio.load("created_at: 2026-11-02T09:15:00Z\n", "f.yaml") == {"created_at": "2026-11-02T09:15:00Z"}


def test_locator_points_at_the_deepest_existing_key():
    text = "models:\n  churn:\n    stages:\n      production: 7\n"
    locate = yamlio.Locator(text, "models.yaml")
    assert (locate(["models", "churn", "stages", "production"]).line, locate(["models", "churn", "nope"]).line) == (
        4,
        2,
    )


def test_absurd_nesting_is_a_clear_error_not_a_crash():
    assert "nested too deeply" in problem("a: " + "[" * 100_000 + "]" * 100_000)


def test_deep_block_nesting_on_one_line_is_refused_too():
    assert "nested too deeply" in problem("a:\n  " + "- " * 60_000 + "x\n")


def test_git_conflict_markers_are_named_with_their_lines_not_parsed_as_yaml() -> None:
    text = "models:\n<<<<<<< main\n  a: 1\n=======\n  a: 2\n>>>>>>> before abc\n"
    with pytest.raises(InvalidFile) as caught:
        yamlio.load(text, "models.yaml")
    [problem] = caught.value.problems
    assert problem.location.line == 2
    assert "unresolved merge conflict" in problem.message and "lines 2, 4, 6" in problem.message


def test_a_marker_like_line_alone_is_ordinary_text() -> None:
    assert yamlio.conflict_lines("a: |\n  =======\n  <<<<<<< not a conflict\n") == ()
    assert yamlio.load("a: |\n  x\n=======: 1\n", "f.yaml") == {"a": "x\n", "=======": 1}
