"""``deepmend groundtruth …`` commands."""

import click


@click.group()
def groundtruth() -> None:
    """Ground-truth maps: simulate, build datasets, read operator maps, realism stats."""
