#!/usr/bin/env python3
"""scripts/check-layers.py fails on what the layer table of
docs/ARCHITECTURE.md forbids, and only on that: each case copies the real
tree, breaks one rule, and expects the check to fail naming it."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECK = REPO / "scripts" / "check-layers.py"


class CheckLayersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dc-layers-")
        self.root = pathlib.Path(self.tmp.name)
        for part in ("src", "apps", "bench"):
            shutil.copytree(REPO / part, self.root / part)
        (self.root / "docs").mkdir()
        shutil.copy(REPO / "docs" / "ARCHITECTURE.md", self.root / "docs")

    def tearDown(self):
        self.tmp.cleanup()

    def run_check(self):
        done = subprocess.run([sys.executable, str(CHECK), "--root", str(self.root)],
                              capture_output=True, text=True, timeout=60)
        return done.returncode, done.stderr

    def append(self, relative, text):
        with open(self.root / relative, "a", encoding="utf-8") as f:
            f.write(text)

    def test_the_tree_as_it_is_passes(self):
        code, out = self.run_check()
        self.assertEqual(code, 0, out)

    def test_a_wrong_way_include_fails(self):
        self.append("src/store/store.cc", '\n#include "manager/manager.h"\n')
        code, out = self.run_check()
        self.assertEqual(code, 1, out)
        self.assertIn("src/store/store.cc", out)
        self.assertIn('includes "manager/manager.h"', out)
        self.assertIn("src/store may include only base, protocol, store", out)

    def test_a_command_source_reaching_into_the_daemon_fails(self):
        self.append("src/cli/dcctl.cc", '\n#include "manager/decisions.h"\n')
        code, out = self.run_check()
        self.assertEqual(code, 1, out)
        self.assertIn("src/cli/dcctl.cc", out)

    def test_a_wrong_way_link_fails(self):
        self.append("src/cli/CMakeLists.txt", "\ntarget_link_libraries(dc_cli PUBLIC dc_manager)\n")
        code, out = self.run_check()
        self.assertEqual(code, 1, out)
        self.assertIn("src/cli/CMakeLists.txt", out)
        self.assertIn("links dc_manager", out)

    def test_a_main_including_a_low_layer_fails(self):
        self.append("apps/dcctl_main.cc", '\n#include "store/store.h"\n')
        code, out = self.run_check()
        self.assertEqual(code, 1, out)
        self.assertIn("apps/dcctl_main.cc", out)

    def test_a_layer_missing_from_the_table_fails(self):
        (self.root / "src" / "newlayer").mkdir()
        (self.root / "src" / "newlayer" / "thing.h").write_text('#include "base/result.h"\n')
        code, out = self.run_check()
        self.assertEqual(code, 1, out)
        self.assertIn("src/newlayer: a layer without a row", out)

    def test_the_table_is_the_rule(self):
        # The same include passes once the table allows it.
        self.append("src/store/store.cc", '\n#include "manager/manager.h"\n')
        doc = self.root / "docs" / "ARCHITECTURE.md"
        text = doc.read_text(encoding="utf-8")
        self.assertIn("| src/store | base, protocol |", text)
        doc.write_text(text.replace("| src/store | base, protocol |", "| src/store | base, protocol, manager |"),
                       encoding="utf-8")
        code, out = self.run_check()
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
