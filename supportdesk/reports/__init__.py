"""Management information: reports, charts and exports for municipalities, vendors and the rollout.

`periods` reads the filters (period, presets, system, vendor, institution type) and turns
Danish local dates into UTC bounds and SQL day expressions; `clock` measures business
time with the SLA's calendar; `queries` is the one module that computes every figure
(grouped SQL); `tables` lays the figures out as the tables a page, CSV and XLSX all show;
`exports` writes CSV and XLSX; `charts` draws SVG charts beside the tables; `durations`
stores each ticket's business time to its first answer and to its resolution.
"""

from supportdesk.reports import durations  # noqa: F401  (connects its event receiver)
