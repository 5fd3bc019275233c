"""One Prometheus collector per source, rendering its in-memory view on each scrape (never the
database). These import the views; only the composition root (``collector.runtime``) imports them.
"""
