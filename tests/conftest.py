import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

# Scripts run as subprocesses by the tests; importing them would run them.
collect_ignore = ["scripts"]
