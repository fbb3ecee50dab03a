"""What a running partnerbot tells its operators: logs with secrets masked (logs.py),
Prometheus metrics (metrics.py), and the health and readiness endpoints (health.py)."""
