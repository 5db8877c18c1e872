"""Stand-in for the get-pip bootstrap script ansible-test downloads from a host outside PyPI.

ansible-test creates each sanity venv without pip, then runs its cached bootstrap script with
pip's options and the packages to install (``pip==X``, optionally ``--no-setuptools`` and
``--no-wheel``). This does the same from the interpreter's bundled pip (ensurepip) and PyPI.
tools/sanity copies it to ~/.ansible/test/cache/get_pip_<version>.py when that is missing.
"""
import subprocess
import sys

if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    # in a child: ensurepip sets PIP_CONFIG_FILE=/dev/null in its own process, which would hide
    # the system pip configuration (index, CA bundle) from the install below
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", *args])
