"""``deepmend compare``: the score bundle (:func:`deepmend.metrics.compare`) between two map files.

Imported by :class:`deepmend.cli.LazyGroup` only when the command is used.
"""

from __future__ import annotations

import json

import click

from deepmend.errors import InputError


@click.command()
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def compare(a: str, b: str, as_json: bool) -> None:
    """Metrics between two maps of the same window (KS, EMD, JS, TV)."""
    from deepmend.grid.diffusion_map import DiffusionMap
    from deepmend.metrics import compare as scores

    ma, mb = DiffusionMap.load(a), DiffusionMap.load(b)
    if ma.window != mb.window:
        raise InputError(f"maps cover different windows ({ma.window.as_dict()} vs {mb.window.as_dict()})", file=b)
    res = scores(ma.prob, mb.prob, res_m=ma.window.res)
    if as_json:
        click.echo(json.dumps(res))
    else:
        for k, v in res.items():
            click.echo(f"{k:>7}: {v:.6f}")
