"""Session-level rejects and the typed protocol errors that carry them.

One mechanism for every FIX protocol error in the project: an exception carrying a frozen
:class:`Reject`. :class:`RemoteProtocolError` means the counterparty sent something invalid
(the session answers with a Reject, 35=3, built from ``error.reject``);
:class:`LocalProtocolError` means *we* were about to send something invalid (a bug or a bad
configuration on our side: nothing is sent, the caller must fix the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SessionRejectReason(IntEnum):
    """SessionRejectReason (373) values, named as in the FIX specification."""

    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = 2
    UNDEFINED_TAG = 3
    TAG_SPECIFIED_WITHOUT_A_VALUE = 4
    VALUE_IS_INCORRECT = 5
    INCORRECT_DATA_FORMAT_FOR_VALUE = 6
    DECRYPTION_PROBLEM = 7
    SIGNATURE_PROBLEM = 8
    COMPID_PROBLEM = 9
    SENDINGTIME_ACCURACY_PROBLEM = 10
    INVALID_MSGTYPE = 11
    XML_VALIDATION_ERROR = 12
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER = 14
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER = 15
    INCORRECT_NUMINGROUP_COUNT = 16
    NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER = 17
    INVALID_UNSUPPORTED_APPLICATION_VERSION = 18
    OTHER = 99

    @property
    def text(self) -> str:
        """The specification's name for this reason, which is what goes into Text (58)."""
        return _TEXTS[self]


_TEXTS: dict[SessionRejectReason, str] = {
    SessionRejectReason.INVALID_TAG_NUMBER: "Invalid tag number",
    SessionRejectReason.REQUIRED_TAG_MISSING: "Required tag missing",
    SessionRejectReason.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE: "Tag not defined for this message type",
    SessionRejectReason.UNDEFINED_TAG: "Undefined Tag",
    SessionRejectReason.TAG_SPECIFIED_WITHOUT_A_VALUE: "Tag specified without a value",
    SessionRejectReason.VALUE_IS_INCORRECT: "Value is incorrect (out of range) for this tag",
    SessionRejectReason.INCORRECT_DATA_FORMAT_FOR_VALUE: "Incorrect data format for value",
    SessionRejectReason.DECRYPTION_PROBLEM: "Decryption problem",
    SessionRejectReason.SIGNATURE_PROBLEM: "Signature problem",
    SessionRejectReason.COMPID_PROBLEM: "CompID problem",
    SessionRejectReason.SENDINGTIME_ACCURACY_PROBLEM: "SendingTime accuracy problem",
    SessionRejectReason.INVALID_MSGTYPE: "Invalid MsgType",
    SessionRejectReason.XML_VALIDATION_ERROR: "XML Validation error",
    SessionRejectReason.TAG_APPEARS_MORE_THAN_ONCE: "Tag appears more than once",
    SessionRejectReason.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER: "Tag specified out of required order",
    SessionRejectReason.REPEATING_GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    SessionRejectReason.INCORRECT_NUMINGROUP_COUNT: (
        "Incorrect NumInGroup count for repeating group"
    ),
    SessionRejectReason.NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER: (
        "Non-data value includes field delimiter (SOH character)"
    ),
    SessionRejectReason.INVALID_UNSUPPORTED_APPLICATION_VERSION: (
        "Invalid/Unsupported Application Version"
    ),
    SessionRejectReason.OTHER: "Other",
}


@dataclass(frozen=True, slots=True)
class Reject:
    """What is wrong with one message, in the terms of a session-level Reject (35=3).

    ``ref_tag`` is RefTagID (371), ``ref_msg_type`` RefMsgType (372), ``ref_seq_num``
    RefSeqNum (45) of the offending message; each is ``None`` when unknown (a message whose
    MsgSeqNum cannot be read has no RefSeqNum). ``detail`` is for logs and humans only; it is
    not meant for the wire, where Text (58) carries :attr:`text`.
    """

    reason: SessionRejectReason
    ref_tag: int | None = None
    ref_msg_type: str | None = None
    ref_seq_num: int | None = None
    detail: str = ""

    @property
    def text(self) -> str:
        """Text (58) for the Reject: the specification's name of :attr:`reason`."""
        return self.reason.text

    def __str__(self) -> str:
        where = f" (tag {self.ref_tag})" if self.ref_tag is not None else ""
        extra = f": {self.detail}" if self.detail else ""
        return f"{int(self.reason)} {self.text}{where}{extra}"


class FixProtocolError(Exception):
    """A FIX message breaks the protocol; :attr:`reject` says how."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(str(reject))
        self.reject = reject


class RemoteProtocolError(FixProtocolError):
    """The counterparty sent an invalid message; answer it with a Reject built from ``reject``."""


class LocalProtocolError(FixProtocolError):
    """We were about to send an invalid message; nothing was sent and the caller must fix it."""
