"""smlocal Model Monitor: baselines, statistics and constraint violations, offline."""
