"""Imported by the crawl's fork server only (see aggregator.workers.PRELOAD), never by the crawl.

The fork server imports the crawl's main module once (``aggregator.cli``), so that workers forked
from it need not. multiprocessing still runs that module again in each worker as ``__mp_main__``,
and runpy warns that it is imported already: harmless here (the module only defines commands),
but it printed a warning per worker into every crawl's output. The filter is inherited by the
workers the server forks.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r".*found in sys\.modules after import of package",
                        category=RuntimeWarning, module="runpy")
