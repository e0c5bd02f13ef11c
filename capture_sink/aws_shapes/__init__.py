"""Documents checked against botocore's service models, with AWS's own error messages.

One implementation for every caller: the emulator validates each request with it (wrapping
the messages in its AWS errors), and a model server validates the DataCaptureConfig it is
given in SMLOCAL_CAPTURE_CONFIG with it. It lives in capture_sink because capture_sink
imports nothing else of smlocal, and both the emulator and the model server may import
capture_sink.

Modules: `models` (botocore's models, loaded once), `patterns` (the models' Java regular
expressions in Python), `java_text` (values printed as AWS's Java service prints them),
`type_checks` (Coral's deserializer messages for a value of the wrong type) and
`constraints` (required members, lengths, ranges, enums and patterns, and AWS's summary).
"""
