"""Planning with learned values: MCTS (mctx) and best-first search, held against the exact optimum.

A learned table Q is used at decision time to look ahead in the world's own model (its
MDP arrays): :mod:`~qlearn.search.mcts` runs MuZero-style PUCT and Gumbel MuZero through
mctx, with the prior and the leaf values read from Q; :mod:`~qlearn.search.best_first`
runs A*, Dijkstra and Q* search on deterministic worlds; :mod:`~qlearn.search.episodes`
plays each planner from every start state and judges it against V*.
"""
