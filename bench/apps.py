"""The baseline the example app is measured against: FastAPI at its barest."""

from __future__ import annotations

from fastapi import FastAPI

baseline = FastAPI()


@baseline.get("/")
async def fixed() -> dict[str, str]:
    return {"status": "ok"}
