"""Webhooks: signed, durable, retried deliveries of the event log to other services."""

from fastapi_issues.webhooks._targets import TargetRefused, check_target

__all__ = ["TargetRefused", "check_target"]
