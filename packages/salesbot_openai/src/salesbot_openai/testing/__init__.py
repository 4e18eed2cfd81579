"""A fake OpenAI-compatible server to test against, shipped so the HTTP tests, the end-to-end test
and the load benchmark can use it too.

    with FakeOpenAIServer() as server:
        server.enqueue("distil", Completion("not json"), Completion(valid_json))
        server.set_default(HttpError(500))          # every other request fails
        config = OpenAIConfig(api_key="test", base_url=server.base_url)
        ...
        server.requests_of("distil")[0].response_format

A request with ``stream: true`` gets its answer as Server-Sent Events; ``DropMidStream``,
``MalformedChunk``, ``StallMidStream`` and ``ErrorMidStream`` make a stream go wrong midway, and
``server.stream_ends`` says how each stream ended (``StreamEnd.CLIENT_CLOSED`` when the client
hung up first).
"""

from salesbot_openai.testing.outcomes import (
    MALFORMED_JSON,
    NO_CHOICES,
    Completion,
    Delay,
    Disconnect,
    DropMidStream,
    ErrorMidStream,
    HttpError,
    MalformedChunk,
    MidStream,
    NotHttp,
    Outcome,
    RawBody,
    RequestKind,
    StallMidStream,
    StreamEnd,
)
from salesbot_openai.testing.server import (
    FakeOpenAIServer,
    RecordedRequest,
    classify,
    default_answer,
    word_pieces,
)

__all__ = [
    "MALFORMED_JSON",
    "NO_CHOICES",
    "Completion",
    "Delay",
    "Disconnect",
    "DropMidStream",
    "ErrorMidStream",
    "FakeOpenAIServer",
    "HttpError",
    "MalformedChunk",
    "MidStream",
    "NotHttp",
    "Outcome",
    "RawBody",
    "RecordedRequest",
    "RequestKind",
    "StallMidStream",
    "StreamEnd",
    "classify",
    "default_answer",
    "word_pieces",
]
