"""Reading CSV exports: header checks, export artifacts that lose nothing (BOM,
trailing empty rows and columns), and the errors for those that do (other separators,
extra fields).
"""


from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.columns import _fmt_names
from pyro_causalmmm.errors import DataValidationError

# ----------------------------------------------------------------------------- CSV files


def _check_extra_fields(file: Path, width: int) -> None:
    """Raise if a data row has non-empty fields beyond the header's ``width`` columns.

    pandas (with ``index_col=False``) drops such fields with a warning; empty ones are
    trailing separators (Excel writes them) and lose nothing.
    """
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            records = (fields for fields in csv.reader(handle) if fields)  # pandas skips blanks
            next(records, None)  # the header
            for row, fields in enumerate(records, start=1):
                extra = [f for f in fields[width:] if f.strip()]
                if extra:
                    raise DataValidationError(
                        f"data file '{file}': data row {row} has {len(fields)} fields but the "
                        f"header names {width} columns (extra values: {_fmt_names(extra, 3)}); "
                        "add the missing column names to the header or remove the extra values"
                    )
    except csv.Error as exc:
        raise DataValidationError(
            f"data file '{file}' has rows with more fields than the header ({exc}); "
            "fix the header or the rows"
        ) from None


def _csv_header(file: Path) -> list[str]:
    """The first non-empty record of the file (the header), as the csv module splits it."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            return next((record for record in csv.reader(handle) if record), [])
    except csv.Error as exc:
        raise DataValidationError(f"data file '{file}' has an unreadable header: {exc}") from None


def _pandas_csv(file: Path, dtype: Any, width: int | None) -> tuple[pd.DataFrame, bool]:
    """``pd.read_csv`` and whether pandas found more fields than header names.

    ``index_col=False``: a trailing separator on data rows must not turn the first column
    (the shop) into the index. ``usecols``: read only the header's columns (the caller
    has checked the extra fields are empty). ``low_memory=False``: no mixed-type warning.
    """
    usecols = None if width is None else range(width)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = pd.read_csv(
            file,
            encoding="utf-8-sig",
            dtype=dtype,
            index_col=False,
            usecols=usecols,
            low_memory=False,
        )
    ragged = False
    for caught_warning in caught:
        if issubclass(caught_warning.category, pd.errors.ParserWarning):
            ragged = True
        else:
            warnings.warn(caught_warning.message, caught_warning.category, stacklevel=4)
    return df, ragged


def _read_csv(file: Path, shop: Any) -> pd.DataFrame:
    """The CSV as read by pandas, with harmless export artifacts removed (see `from_csv`)."""
    dtype = {shop: str} if isinstance(shop, str) else None
    try:
        header = _csv_header(file)
        if len(header) == 1:
            for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
                if sep in header[0]:
                    raise DataValidationError(
                        f"data file '{file}' has a single column {header[0][:60]!r}: it looks "
                        f"separated by {name}, not commas. Save it as comma-separated CSV "
                        "with '.' as the decimal point (in Excel: 'CSV UTF-8 (Comma delimited)')"
                    )
        try:
            df, ragged = _pandas_csv(file, dtype, None)
        except pd.errors.ParserError as exc:
            if not header or "Expected" not in str(exc):  # not a row longer than the header
                raise
            df, ragged = None, True
        if ragged:  # rows longer than the header: fine if the extra fields are empty
            _check_extra_fields(file, len(header))
            df, _ = _pandas_csv(file, dtype, len(header))
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"data file '{file}' is empty") from exc
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"data file '{file}' is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8 CSV"
        ) from exc
    except (ValueError, OverflowError) as exc:  # pd.errors.ParserError and kin
        if isinstance(exc, DataValidationError):
            raise
        message = " ".join(str(exc).split())
        raise DataValidationError(f"data file '{file}' is not valid CSV: {message}") from exc
    empty = df.isna().all(axis=1).to_numpy()
    if empty.size and empty[-1]:  # trailing ",,,," lines from a spreadsheet export
        df = df.iloc[: int(empty.size - np.argmax(~empty[::-1]))] if not empty.all() else df[:0]
    return df


