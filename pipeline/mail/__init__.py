"""Mail that comes back: bounces, auto-replies, unsubscribe mails and replies."""
