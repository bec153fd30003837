"""fio-bounce's test harness: see tests/run.py."""
from .core import Fail, Skip, check, test  # noqa: F401
from .fio import expect_error, expect_ok, fio, fio_job  # noqa: F401
from . import targets  # noqa: F401
