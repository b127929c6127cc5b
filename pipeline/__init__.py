"""Pure, unit-testable pieces of the dataset job: sources, image I/O, stylizers, plan.

Nothing here builds a Beam graph; `beam_jobs/` composes these pieces.
"""
