"""The ``deepmend`` command line: the group and its entry point only.

Each command lives next to the package it drives (:data:`LAZY_COMMANDS`) and is imported
when it runs; ``deepmend --help`` lists them from their source without importing any.
Every user error ends as one ``error: ...`` line on stderr and exit code 2 — never a
traceback — and every output is written atomically.
"""

from __future__ import annotations

import sys

import click

from deepmend.errors import DeepmendError

EXIT_USAGE = 2
#: Modules left out of the base install, and the extra that brings each (pyproject.toml).
OPTIONAL_MODULES = {"torch": "train", "onnx": "train", "fastapi": "serve", "starlette": "serve", "uvicorn": "serve",
                    "multipart": "serve", "python_multipart": "serve", "dask": "scale", "distributed": "scale", "zarr": "scale",
                    "numcodecs": "scale", "psutil": "scale", "exactextract": "geo"}


#: Every command, living next to the code it drives, loaded only when used: name → "module:attribute".
LAZY_COMMANDS = {
    "catalog": "deepmend.data.cli:catalog",
    "compare": "deepmend.metrics.cli:compare",
    "evaluate": "deepmend.evaluation.cli:evaluate",
    "export": "deepmend.engine.cli:export",
    "geolocate": "deepmend.geolocate.cli:geolocate",
    "groundtruth": "deepmend.groundtruth.cli:groundtruth",
    "plot": "deepmend.evaluation.cli:plot",
    "predict": "deepmend.engine.cli:predict",
    "report": "deepmend.evaluation.cli:report",
    "serve": "deepmend.api.cli:serve",
    "teacher": "deepmend.train.teacher_labels:teacher",
    "train": "deepmend.train.cli:train",
    "train-voronoiboost": "deepmend.train.voronoiboost:train_voronoiboost",
    "usecase": "deepmend.geolocate.cli:usecase",
    "vector": "deepmend.engine.cli:vector",
}


def source_help(name: str) -> str:
    """The help text of lazy command ``name`` read from its source with :mod:`ast`, without importing its package.

    ``deepmend --help`` lists every command with this, so it imports none of them (numpy,
    torch, the API …); ``tests/cli/test_cli.py`` checks it equals the loaded command's help.
    """
    import ast
    from pathlib import Path

    module, attr = LAZY_COMMANDS[name].split(":")
    path = Path(__file__).resolve().parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            return ast.get_docstring(node) or ""
    return ""


class LazyGroup(click.Group):
    """A command group whose package commands are imported on first use (``deepmend predict`` never loads the API)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, loaded or not."""
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command ``name``, importing its package's module on first use (None if there is none)."""
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attr = LAZY_COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``: short help of loaded commands, of the others from their source."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, click.Command(name, help=source_help(name)).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deepmend")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Data directory (default: $DEEPMEND_DATA_DIR, ../shared/data beside a checkout, else the embedded Lyon data).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="Debug messages (the logging module's DEBUG level).")
def cli(data_dir: str | None, quiet: bool, verbose: bool) -> None:
    """Spatial diffusion maps of cellular base stations (DeepMEND and baselines)."""
    from deepmend.log import configure

    configure(quiet=quiet, verbose=verbose)
    if data_dir:
        from deepmend.config import set_data_dir

        set_data_dir(data_dir)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="deepmend", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted; run the same command again to resume", err=True)
        return 130
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DeepmendError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        extra = OPTIONAL_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        click.echo(f"error: this command needs the '{exc.name}' module, which the base install leaves out: pip install 'deepmend[{extra}]'", err=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        click.echo("interrupted; run the same command again to resume", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
