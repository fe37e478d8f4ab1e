"""``deepmend catalog``: the bundled countries, cities, operators and site counts.

Imported by :class:`deepmend.cli.LazyGroup` only when the command is used.
"""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def catalog(as_json: bool) -> None:
    """Bundled countries, cities, operators and site counts."""
    from deepmend.data.catalog import catalog as get_catalog

    cat = get_catalog()
    if as_json:
        click.echo(json.dumps(cat, indent=2, ensure_ascii=False))
        return
    for c in cat["countries"]:
        click.echo(f"{c['code']}  {c['name']}  ({c['crs']})")
        for city in c["cities"]:
            ops = ", ".join(f"{o['name']} {o['n_sites']}" for o in city["operators"]) or "no bundled sites"
            click.echo(f"    {city['name']:<20} {ops}   [{city['source']}]")
