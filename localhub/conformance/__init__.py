"""localhub checked against GitHub's own descriptions of itself (localhub/schemas/github).

`bodies`: request bodies against rest-api.json (GitHub's 422, always on). `responses` and `webhooks`: what
localhub answers and emits, checked when the server runs strict (`LocalHubServer(..., strict=True)`), with the
problems kept by a `recorder.Conformance`. `schemas`: the OpenAPI-to-JSON-Schema adaptation they share.
"""
