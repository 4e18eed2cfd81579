"""Process-wide logging, configured by the CLI and by each server worker."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    logging.getLogger("salesbot_http").setLevel(level.upper())
    logging.getLogger("salesbot_core").setLevel(level.upper())
