"""``import pec_ext`` stays light: the heavy optional libraries load only when a feature needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Documents (pypdf, Pillow, asn1crypto, cryptography), the fleet (redis, celery), the CLI (rich, click).
NOT_ON_IMPORT = ("redis", "celery", "pypdf", "PIL", "cryptography", "asn1crypto", "rich", "click")


def full_names_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(done.stdout))


def modules_after(statement: str) -> set[str]:
    return {name.split(".")[0] for name in full_names_after(statement)}


def test_import_pec_ext_loads_none_of_the_heavy_libraries():
    loaded = modules_after("import pec_ext")
    assert "pec_ext" in loaded
    assert sorted(loaded & set(NOT_ON_IMPORT)) == []


def test_the_heavy_libraries_are_really_what_the_features_load():
    # The list above names real modules: using the documents reader loads them (the check can fail).
    loaded = modules_after("import pec_ext.documents.reading")
    assert {"pypdf", "PIL"} <= loaded


def test_a_client_that_signs_callbacks_or_journals_does_not_load_the_receiver_or_the_stores():
    # Every client signs its callbacks and builds journal intents, so these packages are imported;
    # their receiver, transition stores and journal stores (sqlite3 included) wait for first use.
    loaded = full_names_after("import pec_ext")
    assert {"pec_ext.callbacks", "pec_ext.journal"} <= loaded
    waiting = {
        "pec_ext.callbacks.receiver",
        "pec_ext.callbacks.store",
        "pec_ext.journal.redis",
        "pec_ext.journal.sqlite",
        "pec_ext.journal.stores",
        "sqlite3",
    }
    assert sorted(loaded & waiting) == []


def test_every_name_the_lazy_packages_export_resolves():
    code = (
        "import pec_ext, pec_ext.callbacks as c, pec_ext.journal as j\n"
        "for m in (pec_ext, c, j):\n"
        "    for name in m.__all__: getattr(m, name)\n"
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_an_unknown_name_is_still_an_attribute_error():
    import pec_ext.callbacks

    with pytest.raises(AttributeError, match=r"'pec_ext\.callbacks' has no attribute 'Receiver'"):
        pec_ext.callbacks.Receiver  # noqa: B018
