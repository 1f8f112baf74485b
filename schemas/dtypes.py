"""The pandas dtype of delivered text in the source models.

`Text` is pandas' Arrow-backed string dtype (string[pyarrow]). pandera validates a `str` (object)
column by looking at every cell's Python type; a `Text` column is checked by its dtype, once, and
holds its values in compact Arrow buffers. The values are the same delivered text.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd

Text = Annotated[pd.StringDtype, "pyarrow", pd.NA]
