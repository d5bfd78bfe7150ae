"""``python -m aggregator.cli``: the command line."""

from aggregator.cli import main

main()
