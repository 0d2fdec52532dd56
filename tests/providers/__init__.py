"""Local stand-ins for the providers Callgoose's contact-method channels talk to, for tests."""
