"""Production settings plus the two things only the benchmark needs.

The product's own settings module is imported unchanged (DEBUG, middleware, database, cache and
broker all come from the environment the bench sets, as in production). On top of it:

- ``ROOT_URLCONF`` adds the ceiling view at ``/bench/ceiling`` (``bench.urls``);
- ``STATIC_ROOT`` points at the run's temporary ``collectstatic`` output, so the manifest that
  WhiteNoise's CompressedManifestStaticFilesStorage needs with DEBUG off never touches the
  working tree's ``staticfiles/``.
"""

from __future__ import annotations

import os

from issuetracker.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
