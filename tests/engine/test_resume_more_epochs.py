"""A finished run resumed for N more epochs trains exactly N more (the dialog behind `p`)."""

from __future__ import annotations

from .kit import T, events_of, started


def test_resume_after_the_end_trains_as_many_more_epochs_as_asked(make_config):
    s = started(make_config(epochs=2))
    s.hold_when_finished().result(T)
    s.release()
    assert s.status().epoch == 2
    s.resume(3).result(T)  # the dialog's answer; plain resume() adds [train] epochs
    s.hold_when_finished().result(T)
    status = s.status()
    assert (status.epoch, status.epochs) == (5, 5)
    s.stop().result(T)
    assert s.stopped.wait(T)
    resumed = events_of(s.report(), "resume")
    assert [e["detail"]["epochs"] for e in resumed] == [5]
    assert [e["verdict"] for e in resumed] == ["continued"]
