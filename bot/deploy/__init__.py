"""Deploy on merge: deployers behind one small protocol, rollout strategies, verification and rollback.

Nothing heavy is imported here: `modelbot --help` and a slash-command acknowledgement import this package.
"""
