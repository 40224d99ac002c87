"""The modules a strategy may import, and the read-only views it gets of them.

A strategy never receives a real module. ``import numpy`` binds a ``ModuleView``:
an object holding only the names its policy lists (or, for numpy, math and the
like, every public name that is not a submodule and not on the refused list), so
``np.lib``, ``np.ctypeslib``, ``np.load``, ``statistics.sys``, ``dataclasses.builtins``,
``typing.get_type_hints`` or ``strategies.loader`` simply are not there. A view is
built afresh for each load, mutable module data (``np.typecodes``) is copied into
it, and a view cannot be written to.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import re
import types
from dataclasses import dataclass
from typing import Any, Callable

from strategies.loader import _numpy, _origin
from strategies.loader._errors import refusal

Owns = Callable[[Any], bool]


@dataclass(frozen=True)
class Policy:
    """What a strategy sees of one module.

    Attributes:
        names: the names exposed, or None for every public name that is not a module.
        hidden: names removed from that "every public name".
        submodules: child modules exposed as nested views (``np.random``).
    """

    names: frozenset[str] | None = None
    hidden: frozenset[str] = frozenset()
    submodules: tuple[str, ...] = ()


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


NUMPY_HIDDEN = (
    _names(
        """
    load loadtxt save savetxt savez savez_compressed genfromtxt fromfile fromregex memmap
    frombuffer from_dlpack get_include show_config show_runtime test info
    set_printoptions setbufsize seterr seterrcall bmat r_ c_
    """
    )
    | _numpy.HIDDEN
)
"""numpy names refused: files, raw buffers and object dtypes (``_numpy``), process-wide
settings, and the ``r_``/``c_``/``bmat`` string builders, which read variables from the
caller's frame by name."""

_STRATEGY_NAMES = _names(
    """
    Strategy Int Float Categorical Param Constraint ParameterError Bar Context History
    signal
    SmaCross EmaCross MacdCross RsiReversion BollingerReversion ZScoreReversion
    DonchianBreakout AtrChannelBreakout RocMomentum DualTimeframeTrend VwapReversion RsiMacd
    UniverseStrategy UniverseContext PanelBar
    CrossSectionalMomentum DualMomentum InverseVolRotation ShortTermReversal PairsTrading TrendBasket
    """
)
_INDICATOR_HIDDEN = _names("cache_info clear_cache set_cache_limit CacheInfo IndicatorStats")

POLICIES: dict[str, Policy] = {
    "numpy": Policy(hidden=NUMPY_HIDDEN, submodules=("random", "linalg", "fft")),
    "numpy.random": Policy(
        names=_names("default_rng Generator SeedSequence PCG64 PCG64DXSM Philox SFC64 MT19937 RandomState")
    ),
    "numpy.linalg": Policy(hidden=_names("test")),
    "numpy.fft": Policy(hidden=_names("test")),
    "math": Policy(),
    "statistics": Policy(),
    "itertools": Policy(),
    "operator": Policy(hidden=_names("attrgetter methodcaller")),
    "collections": Policy(
        names=_names("ChainMap Counter OrderedDict UserDict UserList UserString defaultdict deque namedtuple"),
        submodules=("abc",),
    ),
    "collections.abc": Policy(),
    "dataclasses": Policy(
        names=_names(
            "dataclass field fields asdict astuple replace is_dataclass "
            "Field FrozenInstanceError InitVar KW_ONLY MISSING"
        )
    ),
    "typing": Policy(
        names=_names(
            """
            Any Annotated Callable ClassVar Collection Counter DefaultDict Deque Dict Final
            FrozenSet Generator Generic Hashable Iterable Iterator List Literal Mapping
            MutableMapping MutableSequence MutableSet NamedTuple NoReturn Optional OrderedDict
            Protocol Sequence Set Sized SupportsFloat SupportsIndex SupportsInt Tuple Type
            TypeVar TypedDict Union TYPE_CHECKING cast
            """
        )
    ),
    "enum": Policy(names=_names("Enum IntEnum Flag IntFlag StrEnum auto unique")),
    "abc": Policy(names=_names("ABC abstractmethod")),
    "functools": Policy(
        names=_names("partial partialmethod reduce lru_cache cache cached_property cmp_to_key total_ordering")
    ),
    "strategies": Policy(
        names=_STRATEGY_NAMES,
        submodules=("base", "params", "context", "indicators", "blocks", "universe"),
    ),
    "strategies.universe": Policy(names=_names("UniverseStrategy UniverseContext PanelBar")),
    "strategies.base": Policy(names=_names("Strategy")),
    "strategies.params": Policy(names=_names("Int Float Categorical Param Constraint ParameterError")),
    "strategies.context": Policy(names=_names("Bar Context History")),
    "strategies.indicators": Policy(hidden=_INDICATOR_HIDDEN),
    "strategies.blocks": Policy(submodules=("combine", "crossing", "filters", "sizing", "cross")),
    "strategies.blocks.cross": Policy(),
    "strategies.blocks.combine": Policy(),
    "strategies.blocks.crossing": Policy(),
    "strategies.blocks.filters": Policy(),
    "strategies.blocks.sizing": Policy(),
    "engine": Policy(
        names=_names("HOLD METRICS Bars Config EngineError InvalidBarsError InvalidConfigError InvalidSignalError"),
        submodules=("errors", "signals"),
    ),
    "engine.errors": Policy(names=_names("EngineError InvalidBarsError InvalidConfigError InvalidSignalError")),
    "engine.signals": Policy(names=_names("HOLD")),
    "__future__": Policy(names=_names("annotations")),
}
"""Every module a strategy may import, by its dotted name."""

ALLOWED_MODULES = tuple(sorted(m for m in POLICIES if m != "__future__"))


def _defined_in(module: types.ModuleType) -> Callable[[Any], bool]:
    """For modules without a name list: keep a name defined by the module's own package."""
    root = module.__name__.split(".")[0]

    def keep(value: Any) -> bool:
        if isinstance(value, (type, types.FunctionType)) and root in ("strategies", "engine"):
            return str(value.__module__).split(".")[0] == root
        return True

    return keep


@functools.lru_cache(maxsize=None)
def public_names(path: str) -> frozenset[str]:
    """Every name the view of module ``path`` holds (submodules included)."""
    policy = POLICIES[path]
    module = importlib.import_module(path)
    if policy.names is not None:
        candidates = [n for n in policy.names if hasattr(module, n)]
    else:
        exported = getattr(module, "__all__", None)
        candidates = list(exported) if exported is not None else dir(module)
    keep = _defined_in(module)
    names = set()
    for name in candidates:
        if name.startswith("_") or name in policy.hidden:
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType) or not keep(value):
            continue
        if path != "__future__" and not _origin.value_allowed(value):
            continue
        names.add(name)
    names.update(policy.submodules)
    return frozenset(names)


class ModuleView:
    """A read-only view of a module: the names a strategy may use, and nothing else."""

    def __init__(self, path: str, names: dict[str, Any]) -> None:
        object.__setattr__(self, "_ModuleView__path", path)
        for name, value in names.items():
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{self.__path}.{name} is not available to strategies")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self!r} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self!r} is read-only")

    def __repr__(self) -> str:
        return f"<module {self.__path} (what strategies see of it)>"


def _own_only(real: Callable[..., Any], what: str, owns: Owns) -> Callable[..., Any]:
    """``real`` as a decorator that only applies to the strategy's own classes and functions."""

    def check(target: Any) -> Any:
        if not owns(target):
            raise refusal(what, "applies only to classes and functions the strategy defines")
        return target

    @functools.wraps(real)
    def decorator(target: Any = None, /, **options: Any) -> Any:
        if target is None:
            return lambda t: real(check(t), **options)
        return real(check(target), **options)

    return decorator


@functools.lru_cache(maxsize=None)
def _enums_without_functional_api() -> dict[tuple[str, str], type]:
    """Enum, IntEnum, Flag, IntFlag, StrEnum, less ``Enum("Name", {...})``.

    The functional API builds a class from run-time strings, and with them special
    methods (``"__getattr__"``) that the checks on class bodies refuse.
    """
    import enum

    def refuse(cls: type, *args: Any, **kwargs: Any) -> Any:
        raise refusal(f"{cls.__name__}('Name', ...)", "the functional Enum API is not available; write a class")

    out: dict[tuple[str, str], type] = {}
    for name in ("Enum", "IntEnum", "Flag", "IntFlag", "StrEnum"):
        real = getattr(enum, name, None)
        if real is not None:
            safe = types.new_class(name, (real,))
            safe.__module__, safe.__qualname__ = "enum", name
            safe.__doc__ = real.__doc__
            safe._create_ = classmethod(refuse)  # type: ignore[attr-defined]
            out[("enum", name)] = safe
    return out


_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


def _named_time_zone(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a block with a ``tz`` parameter) taking only time-zone names for ``tz``.

    pandas reads ``tz="dateutil//etc/passwd"`` as "open that file"; a strategy gets
    names such as ``"America/New_York"`` only.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tz = signature.bind(*args, **kwargs).arguments.get("tz", "UTC")
        named = type(tz) is str and _TIME_ZONE.fullmatch(tz) is not None
        if not named or tz.lower().startswith(("dateutil", "pytz")):
            raise refusal(f"tz={tz!r}", "give a time-zone name such as 'America/New_York'")
        return fn(*args, **kwargs)

    return wrapper


@functools.lru_cache(maxsize=None)
def _zoned_blocks() -> dict[tuple[str, str], Callable[..., Any]]:
    from strategies.blocks import filters

    out = {}
    for name in ("in_window", "time_of_day"):
        safe = _named_time_zone(getattr(filters, name))
        out[("strategies.blocks", name)] = out[("strategies.blocks.filters", name)] = safe
    return out


def _wrappers(owns: Owns) -> dict[tuple[str, str], Any]:
    """Decorators that change the object they are given in place, limited to the strategy's
    own; Enum classes without their functional API; blocks that take time-zone names only."""
    import abc
    import dataclasses

    return {
        **_enums_without_functional_api(),
        **_zoned_blocks(),
        ("dataclasses", "dataclass"): _own_only(dataclasses.dataclass, "dataclass", owns),
        ("functools", "total_ordering"): _own_only(functools.total_ordering, "total_ordering", owns),
        ("abc", "abstractmethod"): _own_only(abc.abstractmethod, "abstractmethod", owns),
    }


def _copied(value: Any) -> Any:
    """Module-level mutable data is copied so a strategy cannot change the real module's."""
    if type(value) in (dict, list, set):
        return copy.deepcopy(value)
    return value


def build_views(owns: Owns) -> dict[str, ModuleView]:
    """A fresh view of every allowed module, by dotted name; submodule views are shared."""
    wrappers = _wrappers(owns)
    views: dict[str, ModuleView] = {}

    def view(path: str) -> ModuleView:
        if path in views:
            return views[path]
        module = importlib.import_module(path)
        policy = POLICIES[path]
        names: dict[str, Any] = {}
        for name in sorted(public_names(path)):
            if name in policy.submodules:
                names[name] = view(f"{path}.{name}")
            else:
                value = _numpy.guarded(path, name, getattr(module, name))
                names[name] = wrappers.get((path, name), _copied(value))
        views[path] = ModuleView(path, names)
        return views[path]

    for path in POLICIES:
        view(path)
    return views
