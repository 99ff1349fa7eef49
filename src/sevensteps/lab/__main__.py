"""``python -m sevensteps.lab``: the same as ``sevensteps lab``."""

import argparse
import sys

from .cli import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m sevensteps.lab", description="The sevensteps live lab.")
add_arguments(parser)
sys.exit(run(parser.parse_args()))
