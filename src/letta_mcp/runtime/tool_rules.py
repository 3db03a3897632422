"""Tool rules (Letta's types and JSON shapes): which tools the model may call at each step of a turn.

A `ToolRulesSolver` lives for one turn. Before each LLM call it says which tools are allowed (the
model is only shown those) and whether a call is required; after each call it records the tool and
its output. A call the rules forbid is not executed: the model reads Letta's
``[ToolConstraintError]`` message as the tool result and can recover.

    run_first              before any other call, only these tools
    exit_loop              calling it ends the turn (stop reason ``tool_rule``)
    continue_loop          calling it forces another step (already so for every tool call)
    constrain_child_tools  right after X, only ``children``
    parent_last_tool       ``children`` only right after X
    conditional            right after X, the child chosen by X's output (``child_output_mapping``,
                           ``default_child``, ``require_output_mapping``)
    max_count_per_step     X at most ``max_count_limit`` times per turn
    required_before_exit   the turn cannot end before X was called
    requires_approval      X runs only once a client approves it (the run pauses)

Rules of unknown types (from an imported Agent File) are kept but not enforced.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any, get_args

from letta_mcp.models import ToolCall, ToolRule, ToolRuleType
from letta_mcp.runtime.errors import RuntimeToolError

RULE_TYPES: tuple[str, ...] = get_args(ToolRuleType)


NEEDS_APPROVAL = "requires_approval"  # the verdict on a call that waits for a client's approval


class ToolRuleError(RuntimeToolError):
    """A tool rule that cannot be enforced as written; nothing was saved."""


def check_rules(rules: Iterable[ToolRule], tools: Iterable[str]) -> None:
    """Raise `ToolRuleError` naming the first rule that is malformed or names a tool the agent lacks."""
    known = set(tools)
    for i, rule in enumerate(rules):
        where = f"tool_rules[{i}] ({rule.type} on {rule.tool_name!r})"
        if rule.type not in RULE_TYPES:
            raise ToolRuleError(f"{where}: unknown rule type; use one of {', '.join(RULE_TYPES)}.")
        if rule.tool_name not in known:
            raise ToolRuleError(f"{where}: the agent has no tool {rule.tool_name!r}; its tools are {sorted(known)}.")
        extra = rule.model_extra or {}
        if rule.type in ("constrain_child_tools", "parent_last_tool"):
            children = extra.get("children")
            if not isinstance(children, list) or not children or not all(isinstance(c, str) for c in children):
                raise ToolRuleError(f"{where}: 'children' must be a non-empty list of tool names.")
            missing = [c for c in children if c not in known]
            if missing:
                raise ToolRuleError(f"{where}: children {missing} are not tools of the agent.")
        if rule.type == "max_count_per_step":
            limit = extra.get("max_count_limit")
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
                raise ToolRuleError(f"{where}: 'max_count_limit' must be an integer from 1 to 1000.")
        if rule.type == "conditional":
            mapping = extra.get("child_output_mapping")
            if not isinstance(mapping, dict) or not mapping:
                raise ToolRuleError(f"{where}: 'child_output_mapping' must map tool outputs to tool names.")
            targets = [*mapping.values(), *([extra["default_child"]] if extra.get("default_child") else [])]
            missing = [t for t in targets if t not in known]
            if missing:
                raise ToolRuleError(f"{where}: {missing} are not tools of the agent.")


class ToolRulesSolver:
    """The rules of one agent, applied to one turn's calls."""

    def __init__(self, rules: Iterable[ToolRule]) -> None:
        self._rules = [r for r in rules if r.type in RULE_TYPES]
        self._calls: list[str] = []
        self._outputs: list[str] = []
        self._counts: Counter[str] = Counter()

    def _of(self, rule_type: str) -> list[ToolRule]:
        return [r for r in self._rules if r.type == rule_type]

    def allowed(self, tools: list[str]) -> list[str]:
        """The tools the model may call now, in the agent's order."""
        allowed = set(tools)
        first = {r.tool_name for r in self._of("run_first")}
        if not self._calls and first:
            allowed &= first
        last = self._calls[-1] if self._calls else None
        for rule in self._of("constrain_child_tools"):
            if rule.tool_name == last:
                allowed &= set(_extra(rule, "children", []))
        for rule in self._of("conditional"):
            if rule.tool_name == last:
                child = _conditional_child(rule, self._outputs[-1])
                allowed &= {child} if child else allowed
        for rule in self._of("parent_last_tool"):
            if rule.tool_name != last:
                allowed -= set(_extra(rule, "children", []))
        for rule in self._of("max_count_per_step"):
            if self._counts[rule.tool_name] >= _extra(rule, "max_count_limit", 1):
                allowed.discard(rule.tool_name)
        return [t for t in tools if t in allowed]

    def must_call(self, tools: list[str]) -> bool:
        """Whether the rules require a tool call now (a run_first, child or conditional rule is active)."""
        last = self._calls[-1] if self._calls else None
        return bool(
            (not self._calls and self._of("run_first"))
            or any(r.tool_name == last for r in self._of("constrain_child_tools") + self._of("conditional"))
        ) and bool(self.allowed(tools))

    def violation(self, name: str, tools: list[str]) -> str | None:
        """Letta's error text when ``name`` may not be called now, else None."""
        allowed = self.allowed(tools)
        if name in allowed or name not in tools:
            return None
        return f"[ToolConstraintError] Cannot call {name}, valid tools include: {allowed}."

    def verdicts(self, tools: list[str], calls: list[ToolCall]) -> dict[str, str | None]:
        """By call id, in call order: the violation text, `NEEDS_APPROVAL`, or None (may run).
        Decided on a copy, so the real record is still made with each call's actual output."""
        trial = ToolRulesSolver(self._rules)
        trial._calls, trial._outputs, trial._counts = list(self._calls), list(self._outputs), Counter(self._counts)
        verdicts: dict[str, str | None] = {}
        for call in calls:
            violation = trial.violation(call.name, tools)
            if violation is None and trial.needs_approval(call.name):
                violation = NEEDS_APPROVAL
            elif violation is None:
                trial.record(call.name, "")
            verdicts[call.id] = violation
        return verdicts

    def record(self, name: str, output: str) -> None:
        self._calls.append(name)
        self._outputs.append(output)
        self._counts[name] += 1

    def ends_turn(self, name: str) -> bool:
        return any(r.tool_name == name for r in self._of("exit_loop"))

    def needs_approval(self, name: str) -> bool:
        return any(r.tool_name == name for r in self._of("requires_approval"))

    def uncalled_before_exit(self) -> list[str]:
        return [r.tool_name for r in self._of("required_before_exit") if r.tool_name not in self._counts]


def render_rules(rules: Iterable[ToolRule]) -> str:
    """The ``<tool_usage_rules>`` section of the system prompt ('' without enforceable rules)."""
    lines = [_RENDER[r.type](r) for r in rules if r.type in _RENDER]
    if not lines:
        return ""
    body = "\n".join(f"<tool_rule>\n{line}\n</tool_rule>" for line in lines)
    return (
        "<tool_usage_rules>\nThese rules constrain which tools you may call and when; calls that break "
        f"them are refused.\n{body}\n</tool_usage_rules>"
    )


_RENDER = {
    "run_first": lambda r: f"Start every response by calling {r.tool_name}.",
    "exit_loop": lambda r: f"{r.tool_name} ends your response (yields control) when called.",
    "continue_loop": lambda r: f"{r.tool_name} requires continuing your response when called.",
    "constrain_child_tools": lambda r: (
        f"After using {r.tool_name}, you must use one of these tools: {', '.join(_extra(r, 'children', []))}."
    ),
    "parent_last_tool": lambda r: f"{', '.join(_extra(r, 'children', []))} can only be used right after {r.tool_name}.",
    "conditional": lambda r: f"{r.tool_name} determines which tool to use next, based on its output.",
    "max_count_per_step": lambda r: f"{r.tool_name}: at most {_extra(r, 'max_count_limit', 1)} use(s) per response.",
    "required_before_exit": lambda r: f"{r.tool_name} must be called before you end your response.",
    "requires_approval": lambda r: f"{r.tool_name} runs only after a person approves the call.",
}


def _extra(rule: ToolRule, name: str, default: Any) -> Any:
    return (rule.model_extra or {}).get(name, default)


def _conditional_child(rule: ToolRule, output: str) -> str | None:
    """The child the output selects (Letta matches the output's value against the mapping's keys)."""
    mapping: dict[str, str] = _extra(rule, "child_output_mapping", {})
    try:
        value: Any = json.loads(output)
    except ValueError:
        value = output
    for key, child in mapping.items():
        if key == output or _same(key, value):
            return child
    if _extra(rule, "require_output_mapping", False):
        return None
    return _extra(rule, "default_child", None)


def _same(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return key.lower() == str(value).lower()
    if isinstance(value, int | float):
        try:
            return float(key) == float(value)
        except ValueError:
            return False
    return key == str(value)
