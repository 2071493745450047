"""``import pec_ext`` stays light: the heavy optional libraries load only when a feature needs them."""

from __future__ import annotations

import json
import subprocess
import sys

# Documents (pypdf, Pillow, asn1crypto, cryptography), the fleet (redis, celery), the CLI (rich, click).
NOT_ON_IMPORT = ("redis", "celery", "pypdf", "PIL", "cryptography", "asn1crypto", "rich", "click")


def modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return {name.split(".")[0] for name in json.loads(done.stdout)}


def test_import_pec_ext_loads_none_of_the_heavy_libraries():
    loaded = modules_after("import pec_ext")
    assert "pec_ext" in loaded
    assert sorted(loaded & set(NOT_ON_IMPORT)) == []


def test_the_heavy_libraries_are_really_what_the_features_load():
    # The list above names real modules: using the documents reader loads them (the check can fail).
    loaded = modules_after("import pec_ext.documents.reading")
    assert {"pypdf", "PIL"} <= loaded
