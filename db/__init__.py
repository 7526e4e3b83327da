"""SpecTool's store: SQLModel tables, engines, the event recorder and the queries the views need.

Modules: ``tables`` (rows), ``engine`` (make_engine, preflight, init_db, stale runs),
``recorder`` (loop events -> rows, one commit per step), ``queries`` (plain dicts for views).
The package knows nothing about models, torch, gradio or the loop's internals.
"""
