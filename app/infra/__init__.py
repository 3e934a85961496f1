"""The outside world (mail), behind small protocols."""
