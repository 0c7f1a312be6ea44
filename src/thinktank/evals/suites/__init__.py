"""Task suites: the bundled ones (``math``, ``game24``, ``code``, ``swe``, ``web``) and
loaders for public benchmarks (:mod:`.loaders`)."""

from __future__ import annotations
