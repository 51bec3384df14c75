"""Build hook: ship ``prouie-autoload.pth`` and ``prouie-autoload.start`` at the top of site-packages.

All metadata lives in pyproject.toml. This file only adds the two start-up files that make
LLaMA-Factory find prouie's dataset converters in every process, torchrun workers included (see
prouie/integrations/autoload.py). Python runs a ``.pth`` line only if it starts with ``import``;
the line runs on Python < 3.15 only and reads ``PROUIE_NO_AUTOLOAD`` before importing anything of
prouie. Python 3.15+ calls the ``.start`` file's entry point instead (PEP 829), and a ``.start``
file disables the import lines of the ``.pth`` of the same name, so the hook runs once everywhere.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "prouie-autoload.pth"
PTH_LINE = (
    "import os, sys; "
    "sys.version_info < (3, 15) "
    "and os.environ.get('PROUIE_NO_AUTOLOAD', '').strip().lower() in ('', '0', 'false', 'no') "
    "and __import__('prouie.integrations.autoload', fromlist=['install']).install()\n"
)
START_NAME = "prouie-autoload.start"
START_LINE = "prouie.integrations.autoload:install\n"
STARTUP_FILES = {PTH_NAME: PTH_LINE, START_NAME: START_LINE}


class build_py_with_pth(build_py):
    """build_py that also writes the start-up files next to the top-level packages.

    A regular wheel installs everything under ``build_lib`` into site-packages. An editable wheel
    (``pip install -e``) maps the packages back to the source tree and takes only the files
    written to the unpacked wheel, which setuptools configures as ``install``'s ``install_lib``;
    the files go there too.
    """

    def run(self) -> None:
        super().run()
        targets = [Path(self.build_lib)]
        if self.editable_mode:
            targets.append(Path(self.get_finalized_command("install").install_lib))
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            for name, text in STARTUP_FILES.items():
                (target / name).write_text(text, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        files = [str(Path(self.build_lib, name)) for name in STARTUP_FILES]
        return [*super().get_outputs(include_bytecode), *files]


setup(cmdclass={"build_py": build_py_with_pth})
