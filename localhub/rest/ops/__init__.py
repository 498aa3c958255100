"""The changes localhub makes to its state and git repository, shared by the HTTP routes and the test API."""
