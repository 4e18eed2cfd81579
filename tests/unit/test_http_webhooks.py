"""The httpx webhook poster against a real receiver: 2xx, other statuses, a receiver that does
not answer within the timeout, and one that is not there."""

from __future__ import annotations

import time

from salesbot_http.webhooks import HttpxWebhookPoster
from tests.support.receiver import receiving
from tests.support.serve import free_port


async def test_statuses_timeouts_and_refusals_are_results() -> None:
    poster = HttpxWebhookPoster(timeout_s=0.5)
    try:
        with receiving(answers=[204, 500]) as receiver:
            ok = await poster.post(receiver.url, b"{}", {"X-Salesbot-Event": "test"})
            failed = await poster.post(receiver.url, b"{}", {})
            receiver.holding = True
            began = time.monotonic()
            silent = await poster.post(receiver.url, b"{}", {})
            waited = time.monotonic() - began
            assert receiver.received[0].headers["x-salesbot-event"] == "test"
        refused = await poster.post(f"http://127.0.0.1:{free_port()}/hook", b"{}", {})
    finally:
        await poster.aclose()

    assert (ok.succeeded, ok.status) == (True, 204)
    assert (failed.succeeded, failed.status) == (False, 500)
    assert failed.error == "the receiver answered 500"  # an empty body adds nothing
    assert not silent.succeeded
    assert silent.error == "no answer within 0.5s"
    assert 0.4 < waited < 5
    assert not refused.succeeded
    assert refused.status is None
    assert refused.error
