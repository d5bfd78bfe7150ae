"""The documentation covers the command line: every command has help text and a row in README's
command reference, and that row names every option of the command (sqlite-utils' habit).

The commands come from the click command tree, so a new command or option fails here until it
is documented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from aggregator.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    """(``"sources add"``, command) for every command and group below ``group``, depth first."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield " ".join((*path, name)), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


COMMANDS = dict(commands())


def options(command: click.Command) -> list[str]:
    """The command's options by their longest name (``--help`` aside)."""
    return [max(p.opts, key=len) for p in command.params if isinstance(p, click.Option) and p.name != "help"]


def reference_row(path: str) -> str:
    """README's command-reference row of ``aggregator PATH``."""
    head = f"| `aggregator {path}".rstrip()
    # The row of this command, not of a subcommand: what follows the name is arguments (URL, PATH|-).
    rows = [
        line
        for line in README.splitlines()
        if line.startswith(head)
        and line[len(head) :][:1] in (" ", "`")
        and not any(re.fullmatch(r"[a-z][a-z-]*", word) for word in line[len(head) :].split("`")[0].split())
    ]
    assert len(rows) == 1, f"README's command reference needs one row for `{head[3:]}`"
    return rows[0]


def test_the_tree_is_walked() -> None:
    assert {
        "extract",
        "fetch",
        "sources",
        "sources add",
        "sources import",
        "crawl",
        "schedule",
        "status",
        "search",
        "stories",
        "feed",
        "export",
        "push",
        "demo",
    } <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_help_and_a_reference_row_naming_its_options(path: str) -> None:
    command = COMMANDS[path]
    assert (command.help or "").strip(), f"`aggregator {path}` has no help text"
    undocumented = [o for o in options(command) if f"`{o}" not in reference_row(path)]
    assert undocumented == []


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_has_help(path: str) -> None:
    bare = [
        max(p.opts, key=len)
        for p in COMMANDS[path].params
        if isinstance(p, click.Option) and p.name not in ("help", "version") and not (p.help or "").strip()
    ]
    assert bare == []


def test_the_global_options_are_documented() -> None:
    row = reference_row("")
    assert [o for o in options(cli) if f"`{o}" not in row and o != "--version"] == []
