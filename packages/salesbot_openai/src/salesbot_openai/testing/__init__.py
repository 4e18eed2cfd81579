"""A fake OpenAI-compatible server to test against, shipped so the HTTP tests, the end-to-end test
and the load benchmark can use it too.

    with FakeOpenAIServer() as server:
        server.enqueue("distil", Completion("not json"), Completion(valid_json))
        server.set_default(HttpError(500))          # every other request fails
        config = OpenAIConfig(api_key="test", base_url=server.base_url)
        ...
        server.requests_of("distil")[0].response_format
"""

from salesbot_openai.testing.outcomes import (
    MALFORMED_JSON,
    NO_CHOICES,
    Completion,
    Delay,
    Disconnect,
    HttpError,
    Outcome,
    RawBody,
    RequestKind,
)
from salesbot_openai.testing.server import (
    FakeOpenAIServer,
    RecordedRequest,
    classify,
    default_answer,
)

__all__ = [
    "MALFORMED_JSON",
    "NO_CHOICES",
    "Completion",
    "Delay",
    "Disconnect",
    "FakeOpenAIServer",
    "HttpError",
    "Outcome",
    "RawBody",
    "RecordedRequest",
    "RequestKind",
    "classify",
    "default_answer",
]
