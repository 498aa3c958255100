"""JSON representations of localhub's state, shaped like GitHub's REST API (rest-api.json)."""
