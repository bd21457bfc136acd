"""The ground floor: errors, explicit-key random generators, schedules, statistics.

Everything else in qlearn may import these modules; they import nothing of qlearn's
above them (``tests/test_imports.py`` checks the order of the whole house).
"""
