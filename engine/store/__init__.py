"""anvil's market-data store: bars by symbol, timeframe and time in one DuckDB file.

from engine.store import Store
with Store() as store:                     # $ANVIL_DB or the user's data folder
    report = store.import_bars("aapl.csv", symbol="AAPL", timeframe="1d")
    bars = store.bars("AAPL", "1d", start="2015-01-01")
    store.catalog()                        # what is stored
    store.save_universe("tech", ["AAPL", "MSFT"])   # a named universe (engine.load_universe("tech"))
engine.load("SPX", "1d")                   # the default store; the shipped sample offline
"""

from engine.store._db import Database, open_database, release
from engine.store._default import (
    default_store,
    delete_universe,
    load,
    load_universe,
    save_universe,
    universe,
    universes,
)
from engine.store._errors import (
    BadRowsError,
    NoDataError,
    SourceError,
    SourceNotFoundError,
    StoreBusyError,
    StoreError,
    TimeframeError,
)
from engine.store._export import export
from engine.store._columns import parse_columns
from engine.store._paths import default_path
from engine.store._query import SeriesInfo
from engine.store._report import ImportReport, RowProblem, SeriesChange
from engine.store._store import Store
from engine.store._timeframe import Timeframe, parse_timeframe
from engine.store._universes import UniverseError, UniverseInfo, UnknownUniverseError

__all__ = [
    "BadRowsError",
    "Database",
    "ImportReport",
    "NoDataError",
    "RowProblem",
    "SeriesChange",
    "SeriesInfo",
    "SourceError",
    "SourceNotFoundError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "Timeframe",
    "TimeframeError",
    "UniverseError",
    "UniverseInfo",
    "UnknownUniverseError",
    "default_path",
    "default_store",
    "delete_universe",
    "export",
    "load",
    "load_universe",
    "open_database",
    "parse_columns",
    "parse_timeframe",
    "release",
    "save_universe",
    "universe",
    "universes",
]
