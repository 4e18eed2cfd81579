"""salesbot's LLM adapter: the core's ``SalesAssistant`` port over the openai SDK, for OpenAI or
any OpenAI-compatible server (Ollama, vLLM, llama.cpp). ``salesbot_openai.testing`` ships a fake
server to test against."""

from salesbot_openai.assistant import OpenAISalesAssistant
from salesbot_openai.config import HttpClient, OpenAIConfig

__all__ = ["HttpClient", "OpenAIConfig", "OpenAISalesAssistant"]
