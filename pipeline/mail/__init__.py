"""Mail: delivering an approved run (send, outbox) and reading what comes back (bounces, replies)."""
