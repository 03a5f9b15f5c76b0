"""Research side: dataset assembly, the vectorbt-backed engine, metrics and plots.

Nothing here imports broker code (DESIGN.md: research never touches money).
"""
