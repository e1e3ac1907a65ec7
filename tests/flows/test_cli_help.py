"""Every ``afx`` option says what it does, its default and its choices in
``--help`` (``afx gateway`` is checked separately: flows/cmd_gateway.py)."""

from __future__ import annotations

import argparse

import pytest

from flows.cli import _parser

COMMANDS = ("demo", "rebalance", "history", "show", "report")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_with_default_and_choices(command: str) -> None:
    p = _subparsers()[command]
    text = " ".join(p.format_help().split())  # argparse wraps lines
    for a in _options(p):
        name = "/".join(a.option_strings) or a.dest
        assert a.help and len(a.help) > 10, f"afx {command} {name}: no help"
        helptext = " ".join(p._get_formatter()._expand_help(a).split())  # %(default)s filled in
        assert helptext in text
        if a.option_strings:  # says what happens without it, or that it is required
            assert "default" in helptext or "required" in helptext, \
                f"afx {command} {name}: no default in {helptext!r}"
        if a.default not in (None, False, argparse.SUPPRESS) and a.option_strings:
            assert f"default: {a.default}" in helptext, f"afx {command} {name}: {helptext!r}"
        for choice in a.choices or ():
            assert str(choice) in helptext, f"afx {command} {name}: choice {choice} not in help"


def test_top_level_help_names_every_command() -> None:
    text = _parser().format_help()
    for command in (*COMMANDS, "gateway"):
        assert command in text
    assert "--version" in text
