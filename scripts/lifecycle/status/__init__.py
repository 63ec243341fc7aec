"""`lifecycle status`: one read of git and the registry, rendered as a table, JSON, markdown or an HTML page.

model.py (the data), reads.py (a registry client that reads everything at most once), collect.py (the
one pass over git and the registry, through the lkg/stale/cleanup/gitops library functions),
history.py (the rollouts on production's first-parent line), render_text.py and render_html.py.
"""
