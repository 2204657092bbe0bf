"""Great Expectations imports in a `python -c` process (as pytest-xdist's workers are).

With the `spark` extra installed, GX imports pyspark.sql.connect, which calls sys.exit(0) when
the main module has neither __spec__ nor __file__ (it takes that for a doctest run): the gate
then ended the process silently. import_great_expectations gives the main module a placeholder
__file__ for the import. Without pyspark the test still checks that the import works.
"""

import subprocess
import sys


def test_gx_imports_in_a_python_c_process():
    code = (
        "import sys; from chengyu_cluster.quality.gate import import_great_expectations as imp; "
        "gx = imp(); print('imported', gx.__version__, hasattr(sys.modules['__main__'], '__file__'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # Imported, and the placeholder __file__ is gone again.
    assert result.stdout.split()[0] == "imported" and result.stdout.split()[-1] == "False", result.stdout
