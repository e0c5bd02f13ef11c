"""smlocal: Amazon SageMaker endpoints, Data Capture and Model Monitor on one machine.

The one import package of the distribution. Its four subpackages live in the
repository's top-level folders (`emulator/`, `model_server/`, `capture_sink/`,
`model_monitor/`; linked here), and are imported only as `smlocal.<package>`, so a
user's own folders of the same names can never shadow them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smlocal")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
