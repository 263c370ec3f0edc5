"""What the tests share: servers, probes, parsers and request bodies. Never a test itself."""
