"""GitHub's REST side: routes, the operations they call, the JSON they render, webhooks, tokens."""
