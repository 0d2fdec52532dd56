"""Local servers that speak contact-method providers' documented HTTP APIs, for the channel tests."""
