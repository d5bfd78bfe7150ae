"""The egg `scrapyd-deploy` uploads: the spiders, with the project's settings as its entry point.

The library (``aggregator``: extraction, store, migrations and their data files) is a package
installed beside Scrapyd, not part of the egg: Scrapyd imports eggs from the zip file, where
Alembic cannot read its migration scripts.
"""

from setuptools import setup

setup(
    name="aggregator-spiders",
    version="1.0",
    packages=["spiders"],
    package_dir={"spiders": "../spiders"},
    entry_points={"scrapy": ["settings = aggregator.settings"]},
)
