"""Production monitoring (`modelbot monitor`): the prediction log or a user's table, scanned out of core, checked
per time window against the model's evaluation reference with the validation's own statistics."""
