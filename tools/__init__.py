"""Tools the agent calls, also served to other agents: typed arguments and results."""
