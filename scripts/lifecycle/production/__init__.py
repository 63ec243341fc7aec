"""The production branch: LKG, weekly rollout, reconcile, rollback, journal."""
