"""Each resource kind's statuses as one `StatusMachine` (see `machine`).

The control plane refuses operations with them and the managers (hosting, jobs) move
resources with them, so they sit below both, like `errors`: they import nothing of the
emulator but `errors`.
"""
