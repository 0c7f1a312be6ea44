"""Reports: a run directory read back as aggregates, ``report.md``, ``report.html``, plots.

See README.md in this folder.
"""
