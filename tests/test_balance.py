"""kmsd.server.balance: worker connection counts shared across fork."""

from __future__ import annotations

import os

import pytest

from kmsd.server.balance import ConnectionBalance


def test_a_forked_worker_publishes_its_count_to_the_others() -> None:
    balance = ConnectionBalance(3)
    pid = os.fork()
    if pid == 0:  # the child: worker 2
        try:
            balance.worker(2).publish(5)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert balance.counts() == [0, 0, 5]


def test_only_a_worker_above_the_least_loaded_one_is_ahead() -> None:
    balance = ConnectionBalance(2)
    first, second = balance.worker(0), balance.worker(1)
    assert not first.ahead() and not second.ahead()  # a tie: both may accept
    first.publish(1)
    assert first.ahead() and not second.ahead()
    second.publish(1)
    assert not first.ahead() and not second.ahead()
    first.publish(0)  # a connection closed
    assert second.ahead()


def test_worker_index_is_checked() -> None:
    with pytest.raises(ValueError):
        ConnectionBalance(2).worker(2)
    with pytest.raises(ValueError):
        ConnectionBalance(0)
