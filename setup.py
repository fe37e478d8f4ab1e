"""Build hook: ship the built web app (``web/dist`` from ``make web``) as ``deepmend/static`` in the wheel,
so that ``pip install .`` followed by ``deepmend serve`` shows the demonstrator. Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithWebApp(build_py):
    def run(self):
        super().run()
        dist = Path(__file__).resolve().parent / "web" / "dist"
        if (dist / "index.html").is_file() and not getattr(self, "editable_mode", False):
            shutil.copytree(dist, Path(self.build_lib) / "deepmend" / "static", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithWebApp})
