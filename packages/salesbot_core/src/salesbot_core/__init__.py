"""salesbot's pure core: the sales conversation, its evolving metadata, the token policy, the use
cases and the ports adapters implement. Imports only the standard library and msgspec."""
