"""Fakes of outside services (push services, chat APIs) that check requests as the real ones do."""
