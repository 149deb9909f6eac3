"""``.. skafa-cli::``: the help of every ``skafa`` command, generated from its argparse definition.

The command-line page quotes the parser itself, so it cannot drift from what the commands accept.
"""

import argparse

from docutils import nodes
from docutils.parsers.rst import Directive

from skafa.cli.parser import build_parser


def _subparsers(parser):
    for action in parser._actions:  # argparse keeps its subcommands in a private action
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


class SkafaCli(Directive):
    has_content = False

    @staticmethod
    def _help(parser):
        block = nodes.literal_block(text=parser.format_help())
        block["language"] = "none"  # help text, not code to highlight
        return block

    def run(self):
        parser = build_parser()
        parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100)
        sections = [self._help(parser)]
        for name, sub in _subparsers(parser).items():
            sub.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100)
            section = nodes.section(ids=[f"skafa-{name}"])
            section += nodes.title(text=f"skafa {name}")
            section += self._help(sub)
            sections.append(section)
        return sections


def setup(app):
    app.add_directive("skafa-cli", SkafaCli)
    return {"parallel_read_safe": True}
