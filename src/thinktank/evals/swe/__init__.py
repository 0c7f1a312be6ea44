"""SWE-bench, all of it: instances and their specs, the bundled suite, environments,
the harness that checks repositories out and judges patches, grading, predictions.

See README.md in this folder.
"""
