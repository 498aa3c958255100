"""What the bot does on GitHub, one module per flow: propose, validate a pull request, approvals, commands.

Flows take a `BotContext` (the Forge and the facts of the run) and plain values; they never build clients.
"""
