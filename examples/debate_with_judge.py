"""Three debaters argue for two rounds, reading each other; a judge picks the answer.

Shows feedback edges (a debater reads the others' previous-round answers), round
limits, and listwise judge selection, all written with the builder.
"""

import os

from thinktank import Debater, Graph, Judge, compile

g = Graph("debate-3x2")
d = g.add(Debater(temperature=0.7), n=3)
j = g.add(Judge(), last_round=2, first_round=2)
g.connect(d, d, feedback=True)  # round r sees round r-1's answers
g.connect(d, j)
g.rounds(2)
g.select("judge")

spec = g.build()
print(spec.to_yaml())
result = compile(spec, models=os.environ.get("THINKTANK_MODEL")).run_sync("What is 12 * 12 - 4?")
print(f"answer={result.answer} status={result.status} rounds={result.rounds}")
for event in result.trace.events:
    if event.kind in ("dispatch", "round_end", "select"):
        print("  ", event.model_dump(exclude_none=True))
