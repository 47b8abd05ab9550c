"""Builds the optional C kernels in ``src/dedupe/core/_native/*.c`` (one extension module per
file, ``dedupe.core._native.<name>``).

They are optional: without a C compiler (or with ``DEDUPE_BUILD_NATIVE=0``) the build prints a
warning and installs the package without them, and every caller falls back to its numpy code,
which gives the same results (tests compare the two), only slower.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
NATIVE = Path("src") / "dedupe" / "core" / "_native"


class OptionalBuildExt(build_ext):
    """build_ext that never fails the install: a kernel that does not compile is skipped."""

    failed: set[str] = set()

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all (DistutilsPlatformError and friends)
            self.failed.update(ext.name for ext in self.extensions)
            self._skip("the C kernels", exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # CCompilerError, DistutilsExecError, ...
            self.failed.add(ext.name)
            self._skip(ext.name, exc)

    def _built(self) -> list[Extension]:
        return [ext for ext in self.extensions if ext.name not in self.failed]

    def copy_extensions_to_source(self) -> None:  # editable installs: copy only what was built
        every, self.extensions = self.extensions, self._built()
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = every

    def copy_file(self, infile, outfile, *args, **kwargs):  # type: ignore[override]
        """Replace an in-place kernel atomically: a process that has the old file loaded keeps it
        (writing over a loaded shared object crashes that process)."""
        tmp = f"{outfile}.{os.getpid()}.tmp"
        shutil.copyfile(infile, tmp)
        os.replace(tmp, outfile)
        return outfile, True

    def get_outputs(self) -> list[str]:
        every, self.extensions = self.extensions, self._built()
        try:
            return super().get_outputs()
        finally:
            self.extensions = every

    @staticmethod
    def _skip(what: str, exc: BaseException) -> None:
        print(f"warning: dedupe: {what} not compiled ({exc}); using the numpy code instead", file=sys.stderr)


def _extensions() -> list[Extension]:
    if os.environ.get("DEDUPE_BUILD_NATIVE", "1") == "0":
        return []
    return [
        Extension(
            f"dedupe.core._native.{src.stem}",
            [str(NATIVE / src.name)],
            depends=[str(NATIVE / h.name) for h in sorted((HERE / NATIVE).glob("*.h"))],  # shared headers: rebuild on change
            extra_compile_args=["-O3"] if os.name != "nt" else [],
        )
        for src in sorted((HERE / NATIVE).glob("*.c"))
    ]


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
