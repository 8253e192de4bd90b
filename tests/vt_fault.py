"""`python vt_fault.py ARGS...` runs `termbridge ARGS...` with a screen emulator that raises whenever
it is to draw screen_child.FAULT: the fault injection for the wrapper's recovery test. No real
input is known to make the emulator fail (any that did would be fixed), yet the wrapper must
survive one."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from screen_child import FAULT  # noqa: E402 - after the path is set

from termbridge import vt  # noqa: E402

_draw = vt.FaintScreen.draw


def _faulty_draw(self, data: str) -> None:
    if FAULT in data:
        raise RuntimeError("injected emulator fault")
    _draw(self, data)


vt.FaintScreen.draw = _faulty_draw  # type: ignore[method-assign]
sys.argv[0] = "termbridge"
from termbridge.fastpath import main  # noqa: E402

main()
