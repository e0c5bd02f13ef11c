"""Jobs: training, processing, monitoring executions, and the scheduler that starts them."""
