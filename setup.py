"""Build hook: ship the recipes of ``models/`` inside the package as ``eventcompress/_recipes``.

The recipes stay at the top of the repository (where the design keeps them and an editable
install reads them); a wheel copies them into the package, where
``eventcompress.recipes.default_folder()`` finds them after a normal install. Everything else
is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RECIPES = Path(__file__).resolve().parent / "models"


class BuildPyWithRecipes(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "eventcompress" / "_recipes"
        target.mkdir(parents=True, exist_ok=True)
        for recipe in sorted(RECIPES.glob("*.toml")):
            shutil.copy2(recipe, target / recipe.name)


setup(cmdclass={"build_py": BuildPyWithRecipes})
