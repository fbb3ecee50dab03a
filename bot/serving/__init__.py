"""`partnerbot serve`: the services one App runs (services.py), started and stopped
together on one event loop (runner.py)."""
