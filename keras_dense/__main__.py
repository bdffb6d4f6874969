"""`python -m keras_dense` runs the `keras-dense` command line."""

import sys

from keras_dense.cli import main

sys.exit(main())
