"""Each resource kind's statuses as one `StatusMachine` (see `machine`), usable by any room:
the control plane refuses operations with them, the managers move resources with them."""
