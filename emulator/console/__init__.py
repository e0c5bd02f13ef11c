"""The local console: server-rendered pages at /_smlocal/ that show what the emulator holds.

It reads through the same operations the API serves (the control plane's Describe/List
functions, the endpoint manager, the runtime's counters, the emulator's own S3 and Logs
clients) and keeps nothing of its own. Its two actions (flush captures, delete an endpoint)
call the functions the API's routes call.
"""
