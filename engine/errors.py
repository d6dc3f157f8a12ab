"""Typed exceptions for the C core's status codes.

C returns negative ``core_status`` codes (csrc/status.h); this module is the one place that
turns them into exceptions, so every wrapper raises the same types for the same failures.
"""

from __future__ import annotations

from typing import NoReturn

from engine._core import lib  # the codes are csrc/status.h's, read from the extension


class CoreError(Exception):
    """A C core call failed; ``code`` is the negative ``core_status`` value."""

    code = 0

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)


class UnknownOrderId(CoreError, KeyError):
    """no resting order has this id"""

    code: int = lib.CORE_ERR_UNKNOWN_ID


class DuplicateOrderId(CoreError):
    """an order with this id is already resting"""

    code: int = lib.CORE_ERR_DUPLICATE_ID


class BadQuantity(CoreError, ValueError):
    """quantity must be positive and within the book's limit"""

    code: int = lib.CORE_ERR_BAD_QTY


class BadPrice(CoreError, ValueError):
    """price must be a positive tick count within the book's limit"""

    code: int = lib.CORE_ERR_BAD_PRICE


class CapacityFull(CoreError):
    """no room left: order pool or ring buffer is at capacity"""

    code: int = lib.CORE_ERR_FULL


class BadOperation(CoreError, ValueError):
    """unknown operation type, side or time in force"""

    code: int = lib.CORE_ERR_BAD_OP


class BadOrderId(CoreError, ValueError):
    """order id must be a positive integer"""

    code: int = lib.CORE_ERR_BAD_ID


class Empty(CoreError):
    """nothing to pop"""

    code: int = lib.CORE_ERR_EMPTY


class OutOfMemory(CoreError, MemoryError):
    """the C core could not allocate memory"""

    code: int = lib.CORE_ERR_NOMEM


class TooBig(CoreError, ValueError):
    """item larger than the destination buffer or the ring"""

    code: int = lib.CORE_ERR_TOO_BIG


_BY_CODE: dict[int, type[CoreError]] = {
    cls.code: cls
    for cls in (
        UnknownOrderId,
        DuplicateOrderId,
        BadQuantity,
        BadPrice,
        CapacityFull,
        BadOperation,
        BadOrderId,
        Empty,
        OutOfMemory,
        TooBig,
    )
}


def error_for(code: int, context: str = "") -> CoreError:
    """The exception for a negative status ``code``; ``context`` is prefixed to its message."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return CoreError(f"{context}: unknown C status {code}" if context else f"C status {code}")
    base = cls.__doc__ or cls.__name__
    return cls(f"{context}: {base}" if context else base)


def check(code: int, context: str = "") -> int:
    """Return ``code`` if it is not negative, else raise the matching :class:`CoreError`."""
    if code < 0:
        raise_for(code, context)
    return code


def raise_for(code: int, context: str = "") -> NoReturn:
    raise error_for(code, context)
