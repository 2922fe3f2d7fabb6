"""Settings shared by the project's own tests.

Hypothesis's default 200 ms per-example deadline is a timing assertion: on a shared two-core machine a
codec or marshal example that takes 5 ms usually takes 300 ms now and then, and the test fails with
``DeadlineExceeded`` on nothing the code did. Every property test here runs without one; a test that
wants a deadline sets it in its own ``@settings``.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("storeswap-tests", deadline=None)
settings.load_profile("storeswap-tests")
