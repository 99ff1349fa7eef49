"""The run report: the story of one run in the seven steps, with its own numbers and pictures.

``build_report(run_dir)`` works only from what a run folder holds (``config.json``, ``summary.json``,
``model.safetensors``, ``snapshots.safetensors``) and the data its config names, so ``sevensteps report
RUN_DIR`` can rebuild the report of any run, old ones included; numbers a run did not record (the gradient's
size per epoch) are left out with a sentence saying so.

The page leads with the seven steps, then baseline vs model, then the mistakes, then the full history and
the configuration. Digit-sized pictures are drawn with Pillow (:mod:`sevensteps.pictures`), the charts as
SVG (:mod:`sevensteps.charts`); neither needs matplotlib (what that saves: BENCHMARKS.md, issue 18).

The work is in three rooms: :mod:`.story` (the numbers), :mod:`.figures` (pictures and charts) and
:mod:`.page` (the words and the HTML).
"""

from .figures import draw_charts, draw_pictures, make_figures
from .page import build_report, captions, step_texts
from .story import Story, tell

__all__ = ["Story", "build_report", "captions", "draw_charts", "draw_pictures", "make_figures", "step_texts", "tell"]
