"""The session's state: one enum and the table of transitions between its values.

Everything else a session tracks (pending TestRequest, outstanding resend range, queued
messages) is data about the ACTIVE state, not extra state flags.
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    DISCONNECTED = "disconnected"  # no transport
    AWAIT_LOGON = "await_logon"  # acceptor: connected, waiting for the peer's Logon
    LOGON_SENT = "logon_sent"  # initiator: our Logon is out, waiting for the reply
    ACTIVE = "active"  # logged on
    LOGOUT_SENT = "logout_sent"  # our Logout is out, waiting for the reply or the timeout


class Trigger(Enum):
    ACCEPTED = "accepted"  # an acceptor's transport connected
    CONNECTED = "connected"  # an initiator's transport connected and sent Logon
    LOGON = "logon"  # a valid Logon was received (and answered, for an acceptor)
    LOGOUT_SENT = "logout_sent"
    DISCONNECT = "disconnect"


TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.DISCONNECTED, Trigger.ACCEPTED): State.AWAIT_LOGON,
    (State.DISCONNECTED, Trigger.CONNECTED): State.LOGON_SENT,
    (State.AWAIT_LOGON, Trigger.LOGON): State.ACTIVE,
    (State.LOGON_SENT, Trigger.LOGON): State.ACTIVE,
    (State.ACTIVE, Trigger.LOGON): State.ACTIVE,  # a mid-session Logon with ResetSeqNumFlag
    (State.ACTIVE, Trigger.LOGOUT_SENT): State.LOGOUT_SENT,
    (State.LOGON_SENT, Trigger.LOGOUT_SENT): State.LOGOUT_SENT,
    (State.AWAIT_LOGON, Trigger.LOGOUT_SENT): State.LOGOUT_SENT,
    (State.LOGOUT_SENT, Trigger.LOGOUT_SENT): State.LOGOUT_SENT,
    **{(s, Trigger.DISCONNECT): State.DISCONNECTED for s in State},
}


class TransitionError(RuntimeError):
    """A trigger that the current state does not allow: a bug in the caller."""


def next_state(state: State, trigger: Trigger) -> State:
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise TransitionError(f"{trigger.value} is not allowed in state {state.value}") from None
