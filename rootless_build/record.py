"""Record: the value classes of the start-up path (Dockerfile instructions, build options,
stored images), declared like dataclasses.

Why not a library: a frozen dataclass takes ~0.9 ms to define here (it execs each method
and asks `inspect` for a signature) and msgspec ~8 ms to import with what it loads, while
a build that finds every step cached takes ~70 ms in all and defines ~40 such classes.
A Record class is ready in ~15 us: its fields are its annotations (its bases' first), its
defaults their class attributes, and the methods below serve every record.

    class Mount(Record, frozen=True):
        type: str = "bind"
        uid: int | None = None
        tags: list[str] = field(factory=list)

frozen: attributes cannot be set or deleted, and the record is hashable. kw_only: the
class's own fields are passed by name only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, factory: Callable[[], Any]) -> Any:
    """A default made afresh for every record (a list, a dict)."""
    return _Factory(factory)


# Type checkers read a Record subclass as a dataclass: fields, __init__, frozen=, kw_only=.
@dataclass_transform(field_specifiers=(field,))
class Record:
    _fields: ClassVar[tuple[str, ...]] = ()
    _positional: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, *, frozen: bool | None = None, kw_only: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name, note in cls.__dict__.get("__annotations__", {}).items()
               if not str(note).startswith(("ClassVar", "typing.ClassVar"))]
        defaults = dict(cls._defaults)
        for name in own:
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
                delattr(cls, name)  # every record holds its fields: a class default would hide a bug
            else:
                defaults.pop(name, None)
        cls._defaults = defaults
        cls._fields = tuple(dict.fromkeys((*cls._fields, *own)))
        inherited = tuple(name for name in cls._positional if name not in own)
        cls._positional = inherited if kw_only else (*inherited, *own)
        if frozen:  # (None: as the base class is)
            # (setattr: type checkers refuse assigning to a method)
            setattr(cls, "__setattr__", _refuse)  # noqa: B010
            setattr(cls, "__delattr__", _refuse)  # noqa: B010
            setattr(cls, "__hash__", _hash)  # noqa: B010

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if len(args) > len(cls._positional):
            raise TypeError(f"{cls.__name__}() takes {len(cls._positional)} positional arguments, {len(args)} given")
        values = dict(zip(cls._positional, args, strict=False))
        for name in cls._fields:
            if name in kwargs:
                if name in values:
                    raise TypeError(f"{cls.__name__}() got {name!r} twice")
                values[name] = kwargs.pop(name)
            elif name not in values:
                default = cls._defaults.get(name, MISSING)
                if default is MISSING:
                    raise TypeError(f"{cls.__name__}() missing argument {name!r}")
                values[name] = default.make() if type(default) is _Factory else default
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected arguments: {', '.join(kwargs)}")
        self.__dict__.update(values)

    def _values(self) -> tuple[Any, ...]:
        state = self.__dict__
        return tuple(state[name] for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # frozen records get _hash

    def __repr__(self) -> str:
        state = self.__dict__
        return f"{type(self).__name__}({', '.join(f'{name}={state[name]!r}' for name in self._fields)})"


def _refuse(self: Record, name: str, *value: Any) -> None:
    raise AttributeError(f"{type(self).__name__} is immutable: cannot change {name!r}")


def _hash(self: Record) -> int:
    return hash((type(self), self._values()))


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    return record._fields


def default_of(cls: type[Record], name: str) -> Any:
    """The default of a field (a fresh one for a factory), or MISSING."""
    default = cls._defaults.get(name, MISSING)
    return default.make() if type(default) is _Factory else default


R = TypeVar("R", bound=Record)


def replace(record: R, **changes: Any) -> R:
    """A copy of a record with some fields changed (the way to "modify" a frozen one)."""
    cls = type(record)
    unknown = changes.keys() - set(cls._fields)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    new = object.__new__(cls)
    state = record.__dict__
    new.__dict__.update({name: state[name] for name in cls._fields}, **changes)
    return new


def asdict(record: Record) -> dict[str, Any]:
    state = record.__dict__
    return {name: state[name] for name in record._fields}
