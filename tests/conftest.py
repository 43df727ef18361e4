"""Suite-wide settings: CI runs property tests on a fixed seed so a run is reproducible;
local runs keep exploring new examples (and remember failures in .hypothesis/)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
