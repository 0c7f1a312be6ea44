"""One agent with a Python-function tool: every bad call becomes an observation."""

import asyncio
import os

from thinktank import Agent, load_model, tool


@tool
async def multiply(a: int, b: int) -> int:
    """Multiply two integers.

    Args:
        a: first factor
        b: second factor
    """
    return a * b


async def main() -> None:
    agent = Agent(
        "solver", load_model(os.environ.get("THINKTANK_MODEL")), tools=[multiply], max_steps=4
    )
    traj = await agent.run("What is 17 * 23? Use the multiply tool.")
    print(f"status={traj.status} output={traj.output}")
    for step in traj.steps:
        for call in step.tool_calls:
            print(f"  tool {call.name}({call.arguments}) -> {call.content[:60]}")


asyncio.run(main())
