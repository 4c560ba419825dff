"""Hypothesis profiles: `dev` (default), `ci` (what `make test` runs) and `thorough`.

Pick one with HYPOTHESIS_PROFILE; the Makefile's `make test` uses `ci`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", max_examples=50, stateful_step_count=40, **_common)
settings.register_profile("ci", max_examples=400, stateful_step_count=60, **_common)
settings.register_profile("thorough", max_examples=2000, stateful_step_count=100, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
