"""Webhooks: signed, durable, retried deliveries of the event log to other services.

Needs the `webhooks` extra (httpx). `DeliveryWorker` delivers; `verify_signature` is for
receivers; `check_target` is the address policy routers apply at registration.
"""

from fastapi_issues.webhooks._retry import RetryPolicy
from fastapi_issues.webhooks._sender import READ_CAP, Sender
from fastapi_issues.webhooks._signing import SIGNATURE_HEADER, sign, verify_signature
from fastapi_issues.webhooks._targets import TargetRefused, check_target
from fastapi_issues.webhooks._worker import DeliveryWorker

__all__ = [
    "READ_CAP",
    "SIGNATURE_HEADER",
    "DeliveryWorker",
    "RetryPolicy",
    "Sender",
    "TargetRefused",
    "check_target",
    "sign",
    "verify_signature",
]
