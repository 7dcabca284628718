"""The web endpoint behind the links in the e-mails (`windstil serve`)."""
