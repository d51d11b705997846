"""The shared signal handling of every backend (harness.backends._interrupts), in this process.

Signals are sent to ourselves with ``os.kill``; each test installs its own
handlers and the previous ones are back when it ends.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from harness.backends._interrupts import (
    Interrupted, deferred_interrupts, exit_code_for, signal_name, stop_signals,
)


def _deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs at the next bytecode boundary of the main thread


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_the_first_stop_signal_raises_interrupted_with_its_name_and_code(signum: int) -> None:
    before = signal.getsignal(signum)
    with stop_signals(note=lambda line: None) as stop:
        with pytest.raises(Interrupted) as e:
            _deliver(signum)
        assert e.value.signum == signum and stop.stopping and stop.first == signum
        assert isinstance(e.value, KeyboardInterrupt)  # what `except Exception` never swallows
    assert e.value.exit_code == 128 + signum == exit_code_for(signum)
    assert e.value.name == signal_name(signum) == signal.Signals(signum).name
    assert signal.getsignal(signum) == before


def test_signals_while_stopping_are_only_noted() -> None:
    notes: list[str] = []
    with stop_signals(note=notes.append) as stop:
        with pytest.raises(Interrupted):
            _deliver(signal.SIGTERM)
        _deliver(signal.SIGINT)  # a second Ctrl-C while the cluster is unwinding: no exception
        _deliver(signal.SIGHUP)
    assert stop.received == [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    assert len(notes) == 2 and "SIGINT again: still stopping" in notes[0]


def test_begin_stopping_makes_the_first_signal_a_note_too() -> None:
    notes: list[str] = []
    with stop_signals(note=notes.append) as stop:
        stop.begin_stopping()  # the run ended another way and is writing its record
        _deliver(signal.SIGTERM)
    assert notes and stop.received == [signal.SIGTERM]


def test_deferred_signals_are_delivered_after_the_block_to_the_handler_in_place() -> None:
    done = []
    with stop_signals(note=lambda line: None):
        with pytest.raises(Interrupted) as e:
            with deferred_interrupts():
                _deliver(signal.SIGHUP)
                _deliver(signal.SIGTERM)
                done.append("the block finished")  # not cut short
        assert done == ["the block finished"] and e.value.signum == signal.SIGHUP


def test_deferred_sigint_without_stop_signals_is_a_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _deliver(signal.SIGINT)


def test_sigint_inherited_as_ignored_is_handled_anyway() -> None:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a `cmd &` of a shell script
    try:
        with stop_signals(note=lambda line: None):
            with pytest.raises(Interrupted):
                _deliver(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # and put back as it was
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_skippable_step_of_stopping_is_cut_by_the_next_signal_only() -> None:
    with stop_signals(note=lambda line: None) as stop:
        stop.begin_stopping()
        with pytest.raises(Interrupted) as e:
            with stop.skippable():  # e.g. the report, once the record is final
                _deliver(signal.SIGINT)
        assert e.value.signum == signal.SIGINT
        _deliver(signal.SIGINT)  # outside it, noted again
    assert stop.received == [signal.SIGINT, signal.SIGINT]
