"""Verified best-of-8: eight samples, a verifier per candidate, the best score wins.

Run with a real endpoint (THINKTANK_MODEL=openai:gpt-4o-mini and OPENAI_API_KEY) or,
with nothing set, the embedded model (a plumbing check, not a capable model).
"""

import os

from thinktank import Graph, Solver, Verifier, compile

g = Graph("verified-best-of-8")
s = g.add(Solver(temperature=0.8), n=8)
v = g.add(Verifier())
g.connect(s, v)
g.select("verifier")
g.budget(max_usd=0.05)

result = compile(g.build(), models=os.environ.get("THINKTANK_MODEL")).run_sync("What is 17 * 23?")
print(
    f"answer={result.answer} status={result.status} cost=${result.cost:.4f} candidates={len(result.candidates)}"
)
for c in result.candidates:
    print(f"  {c.id:12s} answer={c.answer!s:8s} verifier score={c.score}")
