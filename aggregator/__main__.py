"""``python -m aggregator``: the command line."""

from aggregator.cli import main

main()
