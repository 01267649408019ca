"""``python -m genomicsqlite DB ...``: the ``genomicsqlite`` command installed with this package,
run with the package's own library."""
import os
import shutil
import sys
import sysconfig

from ._native import library_path


def main() -> None:
    name = "genomicsqlite"
    command = os.path.join(sysconfig.get_path("scripts"), name)
    if not os.path.isfile(command):
        command = shutil.which(name) or command
    if not os.path.isfile(command):
        sys.exit("genomicsqlite: the genomicsqlite command is not installed next to this Python "
                 "(%s); reinstall the package: pip install ./bindings/python" % command)
    env = dict(os.environ, LIBGENOMICSQLITE=library_path())
    os.execve(command, [name] + sys.argv[1:], env)


if __name__ == "__main__":
    main()
