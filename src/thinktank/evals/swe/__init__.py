"""SWE-bench for real: specifications, environments, evaluation scripts, log grading,
predictions.

| module | what |
|---|---|
| `specs.py` | an instance's spec from what it carries, the `swebench` tables, or a fallback |
| `envs.py` | the three environment modes (`official`, `build`, `clone`) |
| `build.py` | `build` mode's environment images, made offline |
| `scripts.py` | the apply and evaluation scripts run in sandboxes |
| `logs.py` | test statuses from logs (the `swebench` parsers) and the official grading |
| `predictions.py` | the official predictions format and report, both ways |

The harness that uses them is `thinktank.evals.swe_harness`.
"""
