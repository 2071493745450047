"""Where pec_ext meets a fleet: Celery tasks and the shared (Redis) rate limit."""
