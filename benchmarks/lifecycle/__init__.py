"""The lifecycle benchmark (issue 32): what an index gets from its users over weeks of use.

    python -m benchmarks.lifecycle xquad                    # run, write results/xquad/, render table.md, curve.png
    python -m benchmarks.lifecycle xquad --render-only      # table.md and curve.png from the committed files
    python -m benchmarks.lifecycle sample_kb --block 20     # the small set the test runs

loop.py runs the stream (clicks, reports, feedback rounds, tuning, scoring), sets.py says how each set's order and
train split are built, judge.py simulates the judge of thumbs-down reports, files.py writes the per-query files and
render.py makes the table and the curve from them.
"""
