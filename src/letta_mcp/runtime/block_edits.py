"""Text semantics of the agent's memory-edit tools, as pure functions on a block's value.

Each function takes the block's current text and the tool arguments and returns the new text,
or raises :class:`MemoryEditError` whose message is written for the agent to read and act on.
The messages match those of Letta's core tool executor (legacy V1 server 0.16.x) so agents
and prompts tuned against Letta behave the same here; where Letta's behaviour was a trap for
the model (empty search strings, a leading blank line in an empty block) we keep the Letta
text as the prefix of a clearer message or pick the obvious result, as noted per function.

Nothing here touches storage: callers look the block up, refuse read-only blocks with
:data:`READ_ONLY_ERROR`, apply the edit, check the result with :func:`check_limit` and save.
"""

from __future__ import annotations

import re

from letta_mcp.runtime.errors import MemoryEditError

READ_ONLY_ERROR = "Error This block is read-only and cannot be edited."
"""What the agent reads when it tries to edit a read-only block (Letta's exact text)."""

LINE_NUMBER_WARNING = (
    "# NOTE: Line numbers shown below (with arrows like '1→') are to help during editing. "
    "Do NOT include line number prefixes in your memory edit tool calls."
)
"""The banner shown above line-numbered block values; edits that paste it back are refused."""

# A display line number such as "12→ " at the start of any line: the model copied it from the
# rendered block instead of quoting the text itself.
_LINE_NUMBER_PREFIX = re.compile(r"^[ \t]*\d+→[ \t]*", re.MULTILINE)


def core_memory_append(value: str, content: str) -> str:
    """Append ``content`` to the block as a new line.

    Letta joins with ``"\\n"`` unconditionally, which leaves a stray blank first line when
    the block is empty; an empty block simply becomes ``content`` here.
    """
    _reject_line_numbers("content", content)
    return content if value == "" else f"{value}\n{content}"


def core_memory_replace(value: str, old_content: str, new_content: str, *, label: str) -> str:
    """Replace every occurrence of ``old_content`` with ``new_content`` (empty deletes).

    Raises ``Old content '<old_content>' not found in memory block '<label>'`` when it does not
    occur. An empty ``old_content`` is refused: Letta would treat it as found everywhere and
    splice ``new_content`` between every character of the block.
    """
    _reject_line_numbers("old_content", old_content)
    _reject_line_numbers("new_content", new_content)
    if old_content == "":
        raise MemoryEditError(
            f"old_content is empty, so nothing in memory block '{label}' can be replaced. "
            "Pass the exact text to replace; to add text, use core_memory_append."
        )
    if old_content not in value:
        raise MemoryEditError(f"Old content '{old_content}' not found in memory block '{label}'")
    return value.replace(old_content, new_content)


def memory_replace(value: str, old_string: str, new_string: str, *, label: str) -> str:
    """Replace ``old_string``, which must occur exactly once, with ``new_string``.

    Tabs are expanded (to 8-column stops) in the block and both arguments before matching,
    so the returned value has its tabs expanded too, as in Letta. Line-number prefixes
    (``"3→ "``) and the line-number banner are refused in both arguments.

    Raises, with Letta's texts:
    * no match: ``No replacement was performed, old_string `<old>` did not appear verbatim in
      memory block with label `<label>`.``
    * several matches: ``No replacement was performed. Multiple occurrences of old_string
      `<old>` in lines [<n>, ...]. Please ensure it is unique.`` The 1-based lines are where
      each occurrence starts, so multi-line strings get useful numbers too (Letta lists only
      lines containing the whole string, which is none for them).
    An empty ``old_string`` is refused with its own message (Letta would report it as
    occurring on every line).
    """
    _reject_line_numbers("old_string", old_string)
    _reject_line_numbers("new_string", new_string)
    old_string = old_string.expandtabs()
    new_string = new_string.expandtabs()
    value = value.expandtabs()
    if old_string == "":
        raise MemoryEditError(
            f"No replacement was performed, old_string is empty. Pass the exact text to replace from "
            f"memory block with label `{label}`; to add text, use memory_insert."
        )
    starts = _occurrence_starts(value, old_string)
    if not starts:
        raise MemoryEditError(
            f"No replacement was performed, old_string `{old_string}` did not appear verbatim "
            f"in memory block with label `{label}`."
        )
    if len(starts) > 1:
        lines = sorted({value.count("\n", 0, start) + 1 for start in starts})
        raise MemoryEditError(
            f"No replacement was performed. Multiple occurrences of old_string `{old_string}` "
            f"in lines {lines}. Please ensure it is unique."
        )
    return value.replace(old_string, new_string, 1)


def memory_insert(value: str, new_string: str, insert_line: int = -1, *, label: str) -> str:
    """Insert ``new_string`` as whole line(s) after line ``insert_line`` of the block.

    ``0`` inserts before the first line, ``n`` after line ``n`` and ``-1`` after the last.
    Tabs are expanded as in :func:`memory_replace`; line-number prefixes and the banner are
    refused. A block of ``n`` lines accepts ``0..n`` (an empty block counts as one empty
    line, as in Letta, so 0, 1 and -1 are accepted); anything else raises Letta's
    ``Invalid `insert_line` parameter: <n>. It should be within the range of lines of the
    memory block: [0, <n_lines>], or -1 to append to the end of the memory block.`` Inserting
    into an empty block yields ``new_string`` alone, where Letta would add a blank line.
    """
    _reject_line_numbers("new_string", new_string)
    new_string = new_string.expandtabs()
    lines = value.expandtabs().split("\n")
    n_lines = len(lines)
    if insert_line == -1:
        insert_line = n_lines
    elif not 0 <= insert_line <= n_lines:
        raise MemoryEditError(
            f"Invalid `insert_line` parameter: {insert_line}. It should be within the range of lines "
            f"of the memory block: {[0, n_lines]}, or -1 to append to the end of the memory block."
        )
    if value == "":
        return new_string
    return "\n".join([*lines[:insert_line], new_string, *lines[insert_line:]])


def memory_rethink(new_memory: str) -> str:
    """Return ``new_memory`` as the block's complete new value, refusing line-number prefixes.

    Whether the label names an existing block (Letta creates a missing one) is for the caller.
    """
    _reject_line_numbers("new_memory", new_memory)
    return new_memory


def check_limit(label: str, new_value: str, limit: int) -> None:
    """Refuse a value longer than the block's character limit.

    Letta stopped enforcing limits in 0.16.7; we enforce them because an unbounded block grows
    the system prompt (and the bill) on every call. The message keeps Letta's historic prefix
    ``Edit failed: Exceeds <limit> character limit (requested <len>)`` and adds what the agent
    needs to recover: that nothing changed, by how much it is over and how to make room.
    """
    requested = len(new_value)
    if requested <= limit:
        return
    raise MemoryEditError(
        f"Edit failed: Exceeds {limit} character limit (requested {requested}). "
        f"Memory block '{label}' was not changed: the edit would leave it {requested - limit} "
        "characters over its limit. Make room first: condense the whole block with memory_rethink, "
        "or shorten or delete outdated lines with memory_replace, keeping only what you need in "
        "view; then retry with a shorter edit."
    )


def _reject_line_numbers(param: str, text: str) -> None:
    """Refuse text that carries the display-only line numbers or their banner.

    Models that see line-numbered blocks tend to quote the numbers back; saving them would
    corrupt the block, and matching with them would fail confusingly.
    """
    if _LINE_NUMBER_PREFIX.search(text):
        raise MemoryEditError(
            f"{param} contains a line number prefix, which is not allowed. Do not include line "
            "numbers when calling memory tools (line numbers are for display purposes only)."
        )
    if LINE_NUMBER_WARNING in text:
        raise MemoryEditError(
            f"{param} contains a line number warning, which is not allowed. Do not include line "
            "number information when calling memory tools (line numbers are for display purposes only)."
        )


def _occurrence_starts(text: str, needle: str) -> list[int]:
    """Offsets of the non-overlapping occurrences of a non-empty ``needle`` (as str.count sees them)."""
    starts: list[int] = []
    start = text.find(needle)
    while start != -1:
        starts.append(start)
        start = text.find(needle, start + len(needle))
    return starts
