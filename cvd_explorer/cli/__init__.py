"""`cvd-explorer` command line: one module per subcommand in this package.

Each subcommand module defines ``NAME`` (str), ``HELP`` (one line), ``ORDER`` (int, position in
``--help``), ``add_arguments(parser)`` and ``run(args) -> int``, and ``USES_TENSORFLOW = True``
when it needs TensorFlow (imported first, without its start-up chatter). Modules are discovered, so adding
a command is adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from types import ModuleType

from cvd_explorer.errors import CvdError

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notices) is noise on a terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _command_modules() -> list[ModuleType]:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(module)
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every subcommand included."""
    from cvd_explorer import __version__

    parser = argparse.ArgumentParser(
        prog="cvd-explorer",
        description=(
            "See what a Cats-vs-Dogs CNN looks at, layer by layer. Typical flow: "
            "`scan` a data folder, `split` it into a manifest, `train` a run, then open the run "
            "in the Explorer (Python) or `cam` images from the command line."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        sub = subparsers.add_parser(
            module.NAME,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run, _uses_tensorflow=getattr(module, "USES_TENSORFLOW", False))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvd-explorer`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        if args._uses_tensorflow:
            from cvd_explorer.quiet_tf import import_tensorflow

            import_tensorflow()
        return int(args._run(args) or 0)
    except CvdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
