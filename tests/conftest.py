import os
import sys
from pathlib import Path

# Importing the script sets this itself, and says so in a line; the tests know.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# The script lives at the top of the repository, not in a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_configure(config):
    # The TF1 cells warn that they are deprecated each time one is built; that is the point.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*is deprecated and will be removed:UserWarning")
