"""The memory-edit text semantics and the exact messages the agent reads (Letta's texts)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from letta_mcp.runtime.block_edits import (
    LINE_NUMBER_WARNING,
    READ_ONLY_ERROR,
    MemoryEditError,
    check_limit,
    core_memory_append,
    core_memory_replace,
    memory_insert,
    memory_replace,
    memory_rethink,
)

PREFIX_TAIL = (
    "contains a line number prefix, which is not allowed. Do not include line numbers when calling "
    "memory tools (line numbers are for display purposes only)."
)
WARNING_TAIL = (
    "contains a line number warning, which is not allowed. Do not include line number information "
    "when calling memory tools (line numbers are for display purposes only)."
)


def error_of(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The message of the MemoryEditError that ``call`` must raise."""
    with pytest.raises(MemoryEditError) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_read_only_error_is_lettas_text() -> None:
    assert READ_ONLY_ERROR == "Error This block is read-only and cannot be edited."


# --- core_memory_append --------------------------------------------------------------------------


def test_append_adds_a_new_line() -> None:
    assert core_memory_append("Name: Ann", "Likes tea") == "Name: Ann\nLikes tea"


def test_append_to_empty_block_has_no_leading_blank_line() -> None:
    assert core_memory_append("", "Likes tea") == "Likes tea"


def test_append_keeps_unicode_and_existing_trailing_newline() -> None:
    assert core_memory_append("a\n", "🐶 Rex") == "a\n\n🐶 Rex"


def test_append_rejects_line_number_prefix() -> None:
    assert error_of(core_memory_append, "a", "2→ Likes tea") == f"content {PREFIX_TAIL}"


# --- core_memory_replace -------------------------------------------------------------------------


def test_core_replace_replaces_every_occurrence() -> None:
    assert core_memory_replace("cat, cat, dog", "cat", "fox", label="human") == "fox, fox, dog"


def test_core_replace_with_empty_new_content_deletes() -> None:
    assert core_memory_replace("Name: Ann\nOld fact", "\nOld fact", "", label="human") == "Name: Ann"


def test_core_replace_not_found_uses_lettas_text() -> None:
    message = error_of(core_memory_replace, "Name: Ann", "Name: Bob", "Name: Cy", label="human")
    assert message == "Old content 'Name: Bob' not found in memory block 'human'"


def test_core_replace_rejects_empty_old_content() -> None:
    message = error_of(core_memory_replace, "abc", "", "x", label="human")
    assert message.startswith("old_content is empty")
    assert "'human'" in message
    assert "core_memory_append" in message


@pytest.mark.parametrize(("old", "new", "param"), [("1→ a", "b", "old_content"), ("a", "1→ b", "new_content")])
def test_core_replace_rejects_line_number_prefixes(old: str, new: str, param: str) -> None:
    assert error_of(core_memory_replace, "a", old, new, label="human") == f"{param} {PREFIX_TAIL}"


# --- memory_replace ------------------------------------------------------------------------------


def test_replace_single_occurrence() -> None:
    value = "Name: Alice\nJob: nurse"
    assert memory_replace(value, "Alice", "Bob", label="human") == "Name: Bob\nJob: nurse"


def test_replace_multiline_old_string() -> None:
    value = "a\nb\nc"
    assert memory_replace(value, "a\nb", "x", label="human") == "x\nc"


def test_replace_with_empty_new_string_deletes() -> None:
    assert memory_replace("keep\ndrop me\nkeep too", "drop me\n", "", label="human") == "keep\nkeep too"


def test_replace_zero_matches_uses_lettas_text() -> None:
    message = error_of(memory_replace, "Name: Alice", "Name: Bob", "Name: Cy", label="human")
    assert message == (
        "No replacement was performed, old_string `Name: Bob` did not appear verbatim in memory block "
        "with label `human`."
    )


def test_replace_is_case_and_whitespace_sensitive() -> None:
    with pytest.raises(MemoryEditError, match="did not appear verbatim"):
        memory_replace("Name:  Alice", "name: Alice", "x", label="human")


def test_replace_multiple_matches_lists_their_lines() -> None:
    value = "likes tea\nlikes coffee\nhates tea"
    message = error_of(memory_replace, value, "tea", "juice", label="human")
    assert message == (
        "No replacement was performed. Multiple occurrences of old_string `tea` in lines [1, 3]. "
        "Please ensure it is unique."
    )


def test_replace_multiple_matches_on_one_line_lists_it_once() -> None:
    message = error_of(memory_replace, "x\ntea or tea", "tea", "juice", label="human")
    assert "in lines [2]." in message


def test_replace_multiple_multiline_matches_report_their_first_lines() -> None:
    value = "a\nb\nc\na\nb"
    assert "in lines [1, 4]." in error_of(memory_replace, value, "a\nb", "x", label="human")


def test_replace_rejects_empty_old_string() -> None:
    message = error_of(memory_replace, "abc", "", "x", label="human")
    assert message.startswith("No replacement was performed, old_string is empty.")
    assert "`human`" in message
    assert "memory_insert" in message


def test_replace_rejects_empty_old_string_even_in_empty_block() -> None:
    with pytest.raises(MemoryEditError, match="old_string is empty"):
        memory_replace("", "", "x", label="human")


def test_replace_expands_tabs_in_block_and_arguments() -> None:
    # The model often sends spaces where the block has a tab, or the reverse; both sides are
    # expanded to 8-column stops before matching, and the whole block comes back expanded.
    value = "a\tb\nkeep\tthis"
    assert memory_replace(value, "a       b", "c\td", label="human") == "c       d\nkeep    this"
    assert memory_replace(value, "a\tb", "x", label="human") == "x\nkeep    this"


def test_replace_error_quotes_the_expanded_old_string() -> None:
    message = error_of(memory_replace, "abc", "x\ty", "z", label="human")
    assert "old_string `x       y`" in message


@pytest.mark.parametrize(
    "numbered",
    ["1→ Name: Alice", "12→Name: Alice", "  3→\tName: Alice", "Name: Alice\n2→ Job: nurse"],
)
def test_replace_rejects_line_number_prefix_in_old_string(numbered: str) -> None:
    value = "Name: Alice\nJob: nurse"
    assert error_of(memory_replace, value, numbered, "x", label="human") == f"old_string {PREFIX_TAIL}"


def test_replace_rejects_line_number_prefix_in_new_string() -> None:
    message = error_of(memory_replace, "Name: Alice", "Alice", "Bob\n2→ Job", label="human")
    assert message == f"new_string {PREFIX_TAIL}"


def test_replace_rejects_line_number_warning() -> None:
    old = f"{LINE_NUMBER_WARNING}\nName: Alice"
    assert error_of(memory_replace, "Name: Alice", old, "x", label="human") == f"old_string {WARNING_TAIL}"
    new = f"{LINE_NUMBER_WARNING}\nName: Bob"
    assert error_of(memory_replace, "Name: Alice", "Alice", new, label="human") == f"new_string {WARNING_TAIL}"


def test_replace_accepts_numbers_and_arrows_that_are_not_line_prefixes() -> None:
    value = "Tally: 1\nRoute: A→B"
    assert memory_replace(value, "Tally: 1", "Tally: 2", label="human") == "Tally: 2\nRoute: A→B"
    assert memory_replace(value, "A→B", "B→C", label="human") == "Tally: 1\nRoute: B→C"


def test_replace_checks_prefixes_before_matching() -> None:
    # A numbered old_string would also fail to match; the agent must learn the real reason.
    assert error_of(memory_replace, "abc", "1→ zzz", "x", label="human") == f"old_string {PREFIX_TAIL}"


# --- memory_insert -------------------------------------------------------------------------------

THREE_LINES = "one\ntwo\nthree"


def test_insert_default_appends_at_end() -> None:
    assert memory_insert(THREE_LINES, "four", label="human") == "one\ntwo\nthree\nfour"


def test_insert_minus_one_appends_at_end() -> None:
    assert memory_insert(THREE_LINES, "four", -1, label="human") == "one\ntwo\nthree\nfour"


def test_insert_zero_puts_text_at_top() -> None:
    assert memory_insert(THREE_LINES, "zero", 0, label="human") == "zero\none\ntwo\nthree"


def test_insert_after_a_middle_line() -> None:
    assert memory_insert(THREE_LINES, "one and a half", 1, label="human") == "one\none and a half\ntwo\nthree"


def test_insert_after_last_line_equals_append() -> None:
    assert memory_insert(THREE_LINES, "four", 3, label="human") == memory_insert(THREE_LINES, "four", label="human")


def test_insert_several_lines() -> None:
    assert memory_insert(THREE_LINES, "a\nb", 2, label="human") == "one\ntwo\na\nb\nthree"


@pytest.mark.parametrize("line", [4, 100, -2])
def test_insert_out_of_range_uses_lettas_text(line: int) -> None:
    message = error_of(memory_insert, THREE_LINES, "x", line, label="human")
    assert message == (
        f"Invalid `insert_line` parameter: {line}. It should be within the range of lines of the memory "
        "block: [0, 3], or -1 to append to the end of the memory block."
    )


@pytest.mark.parametrize("line", [-1, 0, 1])
def test_insert_into_empty_block_gives_just_the_text(line: int) -> None:
    assert memory_insert("", "first", line, label="human") == "first"


def test_insert_into_empty_block_out_of_range() -> None:
    message = error_of(memory_insert, "", "x", 2, label="human")
    assert "memory block: [0, 1]," in message


def test_insert_expands_tabs() -> None:
    assert memory_insert("a\tb", "c\td", label="human") == "a       b\nc       d"


def test_insert_rejects_line_number_prefix_and_warning() -> None:
    assert error_of(memory_insert, THREE_LINES, "4→ four", label="human") == f"new_string {PREFIX_TAIL}"
    warned = f"{LINE_NUMBER_WARNING}\nfour"
    assert error_of(memory_insert, THREE_LINES, warned, label="human") == f"new_string {WARNING_TAIL}"


# --- memory_rethink ------------------------------------------------------------------------------


def test_rethink_returns_the_new_memory_verbatim() -> None:
    assert memory_rethink("Name: Bob\n\tJob: nurse") == "Name: Bob\n\tJob: nurse"
    assert memory_rethink("") == ""


def test_rethink_rejects_line_number_prefix_and_warning() -> None:
    assert error_of(memory_rethink, "Name: Bob\n2→ Job: nurse") == f"new_memory {PREFIX_TAIL}"
    assert error_of(memory_rethink, f"{LINE_NUMBER_WARNING}\nName: Bob") == f"new_memory {WARNING_TAIL}"


# --- check_limit ---------------------------------------------------------------------------------


def test_limit_allows_values_up_to_the_limit() -> None:
    check_limit("human", "x" * 10, 10)
    check_limit("human", "", 0)


def test_limit_over_keeps_lettas_prefix_and_explains_recovery() -> None:
    message = error_of(check_limit, "human", "x" * 13, 10)
    assert message.startswith("Edit failed: Exceeds 10 character limit (requested 13)")
    assert "'human'" in message
    assert "was not changed" in message
    assert "3 characters over" in message
    assert "memory_rethink" in message
    assert "memory_replace" in message


def test_limit_counts_characters_not_bytes() -> None:
    check_limit("human", "é" * 10, 10)
    with pytest.raises(MemoryEditError, match=r"\(requested 11\)"):
        check_limit("human", "🐶" * 11, 10)
