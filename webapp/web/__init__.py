"""HTTP plumbing every page shares: the middlewares' pieces (errors, security headers, CSRF,
request bodies and their deadlines, the session cookie), the keys of what hangs off the
application and each request, URLs for any table or key, one-time messages."""
