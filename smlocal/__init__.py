"""smlocal: Amazon SageMaker endpoints, Data Capture and Model Monitor on one machine.

The one import package of the distribution. Its four subpackages live in the
repository's top-level folders (`emulator/`, `model_server/`, `capture_sink/`,
`model_monitor/`; linked here), and are imported only as `smlocal.<package>`, so a
user's own folders of the same names can never shadow them.
"""


def __getattr__(name: str) -> str:
    """`__version__`, looked up on first use: reading the installed distributions' metadata
    costs every process that imports smlocal (a monitor worker, a model server) 30-40 ms."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("smlocal")
    except PackageNotFoundError:  # a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
