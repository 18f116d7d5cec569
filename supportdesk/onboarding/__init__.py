"""Onboarding: rollout waves of municipalities, bulk import of their organisations and people.

`reader` reads a workbook (XLSX, or CSV files named after the sheets), `checks` validates
every row against the file and the database and plans the changes, `writer` applies a plan
in bulk statements and invites the new users, `services` ties them together (all or
nothing, or the good rows with `partial`), `readiness` computes the wave overview.
"""
