"""Build hook: ship ``prouie-autoload.pth`` at the top of site-packages.

All metadata lives in pyproject.toml. This file only adds the ``.pth`` file, whose single line
makes LLaMA-Factory find prouie's dataset converters in every process, torchrun workers included
(see prouie/integrations/autoload.py). Python runs a ``.pth`` line only if it starts with
``import``; the line reads ``PROUIE_NO_AUTOLOAD`` before importing anything of prouie.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "prouie-autoload.pth"
PTH_LINE = (
    "import os; "
    "os.environ.get('PROUIE_NO_AUTOLOAD', '').strip().lower() in ('', '0', 'false', 'no') "
    "and __import__('prouie.integrations.autoload', fromlist=['install']).install()\n"
)


class build_py_with_pth(build_py):
    """build_py that also writes the ``.pth`` file next to the top-level packages.

    A regular wheel installs everything under ``build_lib`` into site-packages. An editable wheel
    (``pip install -e``) maps the packages back to the source tree and takes only the files
    written to the unpacked wheel, which setuptools configures as ``install``'s ``install_lib``;
    the file goes there too.
    """

    def run(self) -> None:
        super().run()
        targets = [Path(self.build_lib)]
        if self.editable_mode:
            targets.append(Path(self.get_finalized_command("install").install_lib))
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            (target / PTH_NAME).write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PTH_NAME))]


setup(cmdclass={"build_py": build_py_with_pth})
