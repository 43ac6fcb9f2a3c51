from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityconfig import CityIndex
from notifier.dispatcher import Dispatcher


@dataclass
class NotifierContext:
    city: CityIndex
    pool: Any
    dispatcher: Dispatcher
    base_url: str
    operator_key_hashes: list[str]

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/v1/unsubscribe/{token}"
