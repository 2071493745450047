"""``python -m pec_ext.cli``: the same as the ``pec`` console script."""

from __future__ import annotations

from . import main

main()
